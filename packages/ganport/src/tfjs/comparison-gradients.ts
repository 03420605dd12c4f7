/**
 * Zero gradients for tfjs's comparison kernels, which tfjs leaves without any. A first-order
 * gradient never needs them, but a gradient of a gradient does (train --r1): LeakyReLU's
 * gradient selects with Greater, and differentiating that reaches Greater's inputs, through
 * which nothing flows. Registered on import.
 */
import * as tf from '@tensorflow/tfjs';

for (const kernelName of ['Greater', 'GreaterEqual', 'Less', 'LessEqual', 'Equal', 'NotEqual']) {
  tf.registerGradient({
    kernelName,
    inputsToSave: ['a', 'b'],
    gradFunc: (_dy, [a, b]) => ({ a: () => tf.zerosLike(a), b: () => tf.zerosLike(b) }),
  });
}
