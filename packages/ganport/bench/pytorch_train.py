"""PyTorch reference for bench/train.ts: ms per GAN step for the same architectures.

The models mirror src/presets/mlp.ts and src/presets/dcgan.ts: seed-mlp, mlp, the 28×28 DCGAN
and its class-conditional (label-map) variant at width 32 without dropout (Keras-style batch
norm: momentum 0.99, PacGAN's 0.95, epsilon 1e-3; 'same' padding of a 4×4 stride-2 convolution is padding 1
here), batch 64; and PacGAN's 2-D pair packed 4 (G 4×(400, BN, ReLU), D 3×Maxout(200, 5)),
batch 400. The non-saturating BCE loss on logits, Adam(2e-4, betas 0.5/0.999, eps 1e-7) as
tf.train.adam's defaults. A step is what train/step.ts does: a D update on a real and a
generated batch, then a G update through D (D's weights frozen). Each model is timed with 1, 2,
4, … threads up to --max-threads (default 2: ganport's engine uses every core, so give it the machine's
count); the best step time of each, and the BLAS libraries torch loaded, are printed as JSON:
{"blas": [path, ...], "times": {"seed-mlp": {"1": ms, "2": ms}, ...}}.
Run: /usr/bin/python3 bench/pytorch_train.py [--dcgan-steps N] [--mlp-steps N] [--max-threads N]
"""
import argparse
import json
import time

import torch
from torch import nn

BATCH = 64


def keras_batch_norm(cls, features, keras_momentum=0.99):
    # Keras's momentum weighs the old running value; PyTorch's weighs the new batch's
    return cls(features, momentum=1 - keras_momentum, eps=1e-3)


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


class LabelledGenerator(nn.Module):
    """cdcgan's G: the latent joined to a 50-d label embedding, then the DCGAN generator."""

    def __init__(self, width, latent, classes):
        super().__init__()
        self.embedding = nn.Embedding(classes, 50)
        _, self.body, _ = dcgan_pair(width, latent + 50)

    def forward(self, z, label):
        return self.body(torch.cat([z, self.embedding(label)], 1))


class LabelMapDiscriminator(nn.Module):
    """cdcgan's D: a learned 28×28 label map (embedding → dense) as the image's second channel."""

    def __init__(self, width, classes):
        super().__init__()
        self.embedding = nn.Embedding(classes, 50)
        self.label_map = nn.Linear(50, 28 * 28)
        _, _, self.body = dcgan_pair(width)
        self.body[0] = nn.Conv2d(2, width, 4, 2, 1)

    def forward(self, image, label):
        label_map = self.label_map(self.embedding(label)).view(-1, 1, 28, 28)
        return self.body(torch.cat([image, label_map], 1))


def cdcgan_pair(width=32, latent=100, classes=10):
    return latent, LabelledGenerator(width, latent, classes), LabelMapDiscriminator(width, classes)


class Maxout(nn.Module):
    def __init__(self, features, units, pieces):
        super().__init__()
        self.units, self.pieces = units, pieces
        self.linear = nn.Linear(features, units * pieces)

    def forward(self, x):
        return self.linear(x).view(-1, self.units, self.pieces).max(2).values


def pacgan_pair(pack=4):
    g_layers, width = [], 2
    for _ in range(4):
        g_layers += [nn.Linear(width, 400, bias=False), keras_batch_norm(nn.BatchNorm1d, 400, 0.95), nn.ReLU()]
        width = 400
    generator = nn.Sequential(*g_layers, nn.Linear(400, 2))
    discriminator = nn.Sequential(
        nn.Unflatten(0, (-1, pack)), nn.Flatten(),  # PacGAN: `pack` consecutive samples judged as one
        Maxout(2 * pack, 200, 5), Maxout(200, 200, 5), Maxout(200, 200, 5), nn.Linear(200, 1),
    )
    return 2, generator, discriminator


class Spec:
    def __init__(self, build, sample=(1, 28, 28), batch=BATCH, classes=None, pack=1):
        self.build, self.sample, self.batch, self.classes, self.pack = build, sample, batch, classes, pack


MODELS = {
    'seed-mlp': Spec(lambda: mlp_pair(64, [64], [64], 'relu')),
    'mlp': Spec(lambda: mlp_pair(100, [256, 512], [512, 256], 'leakyRelu')),
    'dcgan': Spec(dcgan_pair),
    'cdcgan': Spec(cdcgan_pair, classes=10),
    'pacgan-2d': Spec(pacgan_pair, sample=(2,), batch=400, pack=4),
}


def best_step_ms(spec, steps):
    torch.manual_seed(1)
    latent, generator, discriminator = spec.build()
    d_optimizer = torch.optim.Adam(discriminator.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-7)
    g_optimizer = torch.optim.Adam(generator.parameters(), lr=2e-4, betas=(0.5, 0.999), eps=1e-7)
    bce = nn.BCEWithLogitsLoss()
    judged = spec.batch // spec.pack
    ones, zeros = torch.ones(judged, 1), torch.zeros(judged, 1)
    real = torch.rand(spec.batch, *spec.sample) * 2 - 1
    labels = (lambda: torch.randint(0, spec.classes, (spec.batch,))) if spec.classes else None
    real_labels = labels() if labels else None  # the real batch's own, as the data gives them

    def G(z, label):
        return generator(z) if label is None else generator(z, label)

    def D(x, label):
        return discriminator(x) if label is None else discriminator(x, label)

    def step():
        # the D update's and the G update's generated batches draw their own labels, as train/step.ts does
        fake_labels_d, fake_labels_g = (labels(), labels()) if labels else (None, None)
        d_optimizer.zero_grad(set_to_none=True)
        with torch.no_grad():  # D's update needs no gradient through G
            fake = G(torch.randn(spec.batch, latent), fake_labels_d)
        d_loss = bce(D(real, real_labels), ones) + bce(D(fake, fake_labels_d), zeros)
        d_loss.backward()
        d_optimizer.step()
        discriminator.requires_grad_(False)
        g_optimizer.zero_grad(set_to_none=True)
        g_loss = bce(D(G(torch.randn(spec.batch, latent), fake_labels_g), fake_labels_g), ones)
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


def blas_libraries():
    """The BLAS (or MKL) shared libraries this process has mapped: which one torch computes with."""
    with open('/proc/self/maps') as maps:
        paths = {line.split()[-1] for line in maps if 'blas' in line or 'mkl' in line}
    return sorted(p for p in paths if p.startswith('/'))


def thread_counts(most):
    counts = [1]
    while counts[-1] * 2 < most:
        counts.append(counts[-1] * 2)
    return counts + [most] if most > 1 else counts


def positive(text):
    value = int(text)
    if value < 1:
        raise argparse.ArgumentTypeError(f'must be a positive integer, got {text}')
    return value


def main():
    parser = argparse.ArgumentParser()
    parser.add_argument('--dcgan-steps', type=positive, default=10)
    parser.add_argument('--mlp-steps', type=positive, default=50)
    parser.add_argument('--max-threads', type=positive, default=2)
    args = parser.parse_args()
    results = {}
    for name, spec in MODELS.items():
        steps = args.dcgan_steps if 'dcgan' in name else args.mlp_steps
        results[name] = {}
        for threads in thread_counts(args.max_threads):
            torch.set_num_threads(threads)
            results[name][str(threads)] = best_step_ms(spec, steps)
    print(json.dumps({'blas': blas_libraries(), 'times': results}))


if __name__ == '__main__':
    main()
