/** A worker lane whose module fails as it loads. */
throw new Error('the lane broke');
