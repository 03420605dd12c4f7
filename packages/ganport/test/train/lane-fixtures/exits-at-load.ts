/** A worker lane that ends its thread before it is ready. */
process.exit(7);
