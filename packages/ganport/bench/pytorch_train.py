"""PyTorch reference for bench/train.ts: ms per GAN step for the same architectures.

The models mirror models/mlp.ts and models/dcgan.ts: seed-mlp, mlp and the 28×28 DCGAN
at width 32 without dropout (Keras-style batch norm: momentum 0.99, epsilon 1e-3; 'same'
padding of a 4×4 stride-2 convolution is padding 1 here), the non-saturating BCE loss on
logits, Adam(2e-4, betas 0.5/0.999, eps 1e-7) as tf.train.adam's defaults, batch 64.
A step is what train/step.ts does: a D update on a real and a generated batch, then a G
update through D (D's weights frozen). Each model is timed with 1 and 2 threads; the best
step time of each is printed as JSON: {"seed-mlp": {"1": ms, "2": ms}, ...}.
Run: /usr/bin/python3 bench/pytorch_train.py [--dcgan-steps N] [--mlp-steps N]
"""
import argparse
import json
import time

import torch
from torch import nn

BATCH = 64


def keras_batch_norm(cls, features):
    return cls(features, momentum=0.01, eps=1e-3)


def mlp_pair(latent, g_units, d_units, activation):
    def act():
        return nn.ReLU() if activation == 'relu' else nn.LeakyReLU(0.2)

    g_layers, width = [], latent
    for units in g_units:
        g_layers += [nn.Linear(width, units), act()]
        width = units
    g_layers += [nn.Linear(width, 784), nn.Tanh(), nn.Unflatten(1, (1, 28, 28))]
    d_layers, width = [nn.Flatten()], 784
    for units in d_units:
        d_layers += [nn.Linear(width, units), act()]
        width = units
    d_layers += [nn.Linear(width, 1)]
    return latent, nn.Sequential(*g_layers), nn.Sequential(*d_layers)


def dcgan_pair(width=32, latent=100):
    top = width * 2
    generator = nn.Sequential(
        nn.Linear(latent, 7 * 7 * top, bias=False),
        keras_batch_norm(nn.BatchNorm1d, 7 * 7 * top),
        nn.ReLU(),
        nn.Unflatten(1, (top, 7, 7)),
        nn.ConvTranspose2d(top, width, 4, 2, 1, bias=False),
        keras_batch_norm(nn.BatchNorm2d, width),
        nn.ReLU(),
        nn.ConvTranspose2d(width, 1, 4, 2, 1),
        nn.Tanh(),
    )
    discriminator = nn.Sequential(
        nn.Conv2d(1, width, 4, 2, 1),
        nn.LeakyReLU(0.2),
        nn.Conv2d(width, top, 4, 2, 1),
        nn.LeakyReLU(0.2),
        nn.Flatten(),
        nn.Linear(top * 7 * 7, 1),
    )
    return latent, generator, discriminator


MODELS = {
    'seed-mlp': lambda: mlp_pair(64, [64], [64], 'relu'),
    'mlp': lambda: mlp_pair(100, [256, 512], [512, 256], 'leakyRelu'),
    'dcgan': dcgan_pair,
}


def best_step_ms(build, steps):
    torch.manual_seed(1)
    latent, generator, discriminator = build()
    d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-7)
    g_optimizer = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-7)
    bce = nn.BCEWithLogitsLoss()
    ones, zeros = torch.ones(BATCH, 1), torch.zeros(BATCH, 1)
    real = torch.rand(BATCH, 1, 28, 28) * 2 - 1

    def step():
        d_optimizer.zero_grad(set_to_none=True)
        fake = generator(torch.randn(BATCH, latent)).detach()
        d_loss = bce(discriminator(real), ones) + bce(discriminator(fake), zeros)
        d_loss.backward()
        d_optimizer.step()
        discriminator.requires_grad_(False)
        g_optimizer.zero_grad(set_to_none=True)
        g_loss = bce(discriminator(generator(torch.randn(BATCH, latent))), ones)
        g_loss.backward()
        g_optimizer.step()
        discriminator.requires_grad_(True)

    for _ in range(2):
        step()  # warm-up
    best = float('inf')
    for _ in range(steps):
        start = time.perf_counter()
        step()
        best = min(best, (time.perf_counter() - start) * 1000)
    return best


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--dcgan-steps', type=int, default=10)
    parser.add_argument('--mlp-steps', type=int, default=50)
    args = parser.parse_args()
    results = {}
    for name, build in MODELS.items():
        steps = args.dcgan_steps if name == 'dcgan' else args.mlp_steps
        results[name] = {}
        for threads in (1, 2):
            torch.set_num_threads(threads)
            results[name][str(threads)] = best_step_ms(build, steps)
    print(json.dumps(results))


if __name__ == '__main__':
    main()
