"""Networks: the digit classifier (`ConvNet`) and the seed's autoencoder of systems A and best; B's `DeepCNN` and
`BNAutoencoder`; the best model's `DigitOrNot`; `GapNet`, the literature splits' small network (their files and
manifest: `store`).
Weights are stored in float32; each network runs inference in its own dtype (`INFERENCE`) and casts its input to
it, so the float64 batches of the input pipeline feed any of them.
"""
from __future__ import annotations

import torch
import torch.nn.functional as F
from torch import nn

from data import UNKNOWN
from preprocess import MNIST_MEAN, MNIST_STD

# How a network runs inference: (dtype, memory format of its weights). Classifiers run in float32 with
# channels-last weights (oneDNN's direct convolutions; see REPORT's speed section); their outputs are
# continuous scores and an argmax, which float32's CPU-to-CPU rounding (~1e-7) moves far less than anything is
# printed to. An autoencoder whose output feeds a discrete step (max-unpool indices, Otsu binarisation) runs in
# float64, where every CPU gives the same indices and pixel counts.
FAST = (torch.float32, torch.channels_last)
FLOAT64 = (torch.float64, torch.contiguous_format)  # the same values on every CPU, not exact


def _relu(x: torch.Tensor) -> torch.Tensor:
    """ReLU in place, as every network here applies it: profiled at batch 128, the digit-or-not network spent more
    time in ReLUs writing fresh output buffers than in its convolutions."""
    return F.relu(x, inplace=True)


def _pooled(x: torch.Tensor) -> torch.Tensor:
    """relu(max_pool(x)) = max_pool(relu(x)) exactly (ReLU is monotone, max is exact, and the gradients agree): the
    ReLU then runs on a quarter of the values."""
    return _relu(F.max_pool2d(x, 2))


def _as_input(x: torch.Tensor, weight: torch.Tensor) -> torch.Tensor:
    """A batch in the dtype of the network's weights (a no-op in training)."""
    return x.to(weight.dtype)


class ConvNet(nn.Module):
    """Baseline digit classifier: the seed's 2 conv + 2 fully connected layers, wider and with dropout applied
    (`classes` outputs: 10 digits, or the 6 known digits of a literature split, `protocols`)."""

    def __init__(self, width: int = 32, hidden: int = 128, classes: int = 10):
        super().__init__()
        self.conv1 = nn.Conv2d(1, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.fc1 = nn.Linear(2 * width * 7 * 7, hidden)
        self.fc2 = nn.Linear(hidden, classes)
        self.drop_conv = nn.Dropout2d(0.25)
        self.drop_fc = nn.Dropout(0.5)

    INFERENCE = FAST

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate (fc1) activations: the classifier's embedding."""
        x = _pooled(self.conv1(_as_input(x, self.conv1.weight)))
        x = self.drop_conv(_pooled(self.conv2(x)))
        return _relu(self.fc1(torch.flatten(x, 1)))

    def head(self, features: torch.Tensor) -> torch.Tensor:
        """Logits from the embedding."""
        return self.fc2(self.drop_fc(features))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class GapNet(nn.Module):
    """A literature split's network: five 3x3 convolutions (width, width, 2, 2 and 4 x width channels) each with
    batch norm and ReLU, two max-pools, global average pooling and one linear layer: the shape of ARPL's
    `classifier32` (nine convolutions 64-128), scaled down to train on 2 CPU cores."""

    def __init__(self, classes: int = 6, width: int = 16):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            *_bn_block(1, w), *_bn_block(w, w), nn.MaxPool2d(2),
            *_bn_block(w, 2 * w), *_bn_block(2 * w, 2 * w), nn.MaxPool2d(2),
            *_bn_block(2 * w, 4 * w), nn.AdaptiveAvgPool2d(1), nn.Flatten(),
        )
        self.fc = nn.Linear(4 * w, classes)

    INFERENCE = FAST

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """The pooled activations: the network's embedding. In eval mode each batch norm is folded into the
        convolution before it (the same function, one pass over the activations fewer)."""
        x = _as_input(x, self.body[0].weight)
        if self.training:
            return self.body(x)
        layers = list(self.body)
        for i, layer in enumerate(layers):
            if isinstance(layer, nn.BatchNorm2d):
                continue
            if isinstance(layer, nn.Conv2d) and isinstance(layers[i + 1], nn.BatchNorm2d):
                bn = layers[i + 1]
                scale = bn.weight * (bn.running_var + bn.eps).rsqrt()
                x = F.conv2d(x, layer.weight * scale[:, None, None, None], bn.bias - bn.running_mean * scale,
                             padding=layer.padding)
            else:
                x = layer(x)
        return x

    def head(self, features: torch.Tensor) -> torch.Tensor:
        return self.fc(features)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


def _bn_block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1, bias=False), nn.BatchNorm2d(c_out), nn.ReLU(inplace=True)]


class Autoencoder(nn.Module):
    """The seed's autoencoder: conv + max-pool encoder to a 32-d code, mirrored decoder with max-unpool."""

    def __init__(self, code: int = 32):
        super().__init__()
        self.conv = nn.Conv2d(1, 10, 5, padding=1)  # 28 -> 26, pooled to 13
        self.enc = nn.Sequential(nn.Linear(1690, 128), nn.ReLU(inplace=True), nn.Linear(128, 64), nn.ReLU(inplace=True),
                                 nn.Linear(64, code))
        self.dec = nn.Sequential(nn.Linear(code, 64), nn.ReLU(inplace=True), nn.Linear(64, 128), nn.ReLU(inplace=True),
                                 nn.Linear(128, 1690))
        self.deconv = nn.ConvTranspose2d(10, 1, 5, padding=1)

    INFERENCE = FLOAT64  # its max-unpool indices and A's Otsu diff are discrete (the best model: a float32 copy)

    def encode(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """The code and the max-pool indices the decoder unpools with."""
        h, idx = F.max_pool2d(_relu(self.conv(_as_input(x, self.conv.weight))), 2, return_indices=True)
        return self.enc(torch.flatten(h, 1)), idx

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        code, idx = self.encode(x)
        h = self.dec(code).unflatten(1, (10, 13, 13))
        return _to_one_channel(self.deconv, _relu(F.max_unpool2d(h, idx, 2)))


def _to_one_channel(deconv: nn.ConvTranspose2d, x: torch.Tensor) -> torch.Tensor:
    """deconv(x) for a stride-1 transposed convolution to one channel; in float32 as a depthwise convolution with
    the flipped kernels summed over the channels: the same map up to rounding, and on the CPU the autoencoder in
    half the time (oneDNN's transposed convolution to one channel was more than half of it). Float64 has no oneDNN
    kernels and its depthwise convolution is the slower one: A's autoencoder keeps the transposed convolution."""
    if x.dtype != torch.float32:
        return deconv(x)
    pad = deconv.kernel_size[0] - 1 - deconv.padding[0]
    maps = F.conv2d(x, deconv.weight.flip(2, 3), padding=pad, groups=x.shape[1])
    return maps.sum(1, keepdim=True) + deconv.bias.view(1, -1, 1, 1)


def _conv_block(c_in: int, c_out: int) -> list[nn.Module]:
    return [nn.Conv2d(c_in, c_out, 3, padding=1), nn.ReLU(inplace=True), nn.BatchNorm2d(c_out)]


class DeepCNN(nn.Module):
    """System B's classifier: 6 conv layers (ReLU, batch norm) in 3 blocks with max-pool and dropout, then
    2 fully connected layers with batch norm and dropout. `features` is the embedding the contrastive loss uses.
    Channels are scaled down from the seed (32-128) to (16, 32, 64) so B trains on 2 CPU cores."""

    def __init__(self, width: int = 16, embed: int = 128):
        super().__init__()
        w = width
        self.body = nn.Sequential(
            *_conv_block(1, w), *_conv_block(w, w), nn.MaxPool2d(2), nn.Dropout(0.25),
            *_conv_block(w, 2 * w), *_conv_block(2 * w, 2 * w), nn.MaxPool2d(2), nn.Dropout(0.25),
            *_conv_block(2 * w, 4 * w), *_conv_block(4 * w, 4 * w), nn.MaxPool2d(2), nn.Dropout(0.25),
            nn.Flatten(), nn.Linear(4 * w * 3 * 3, 256), nn.ReLU(inplace=True), nn.BatchNorm1d(256),
            nn.Dropout(0.5),
            nn.Linear(256, embed), nn.BatchNorm1d(embed),
        )
        self.head = nn.Sequential(nn.Dropout(0.5), nn.Linear(embed, 10))

    INFERENCE = FAST

    def features(self, x: torch.Tensor) -> torch.Tensor:
        return self.body(_as_input(x, self.body[0].weight))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.head(self.features(x))


class BNAutoencoder(nn.Module):
    """System B's autoencoder: 2 conv layers (16, 4 channels) with batch norm, ReLU and max-pool, a batch-normed
    linear bottleneck with LeakyReLU, and a transposed-conv decoder with a tanh output."""

    def __init__(self, code: int = 32):
        super().__init__()
        self.encoder = nn.Sequential(
            nn.Conv2d(1, 16, 3, padding=1), nn.BatchNorm2d(16), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Conv2d(16, 4, 3, padding=1), nn.BatchNorm2d(4), nn.ReLU(inplace=True), nn.MaxPool2d(2),
            nn.Flatten(), nn.BatchNorm1d(4 * 7 * 7), nn.Linear(4 * 7 * 7, code), nn.LeakyReLU(0.2),
        )
        self.decoder = nn.Sequential(
            nn.Linear(code, 4 * 7 * 7), nn.BatchNorm1d(4 * 7 * 7), nn.Unflatten(1, (4, 7, 7)),
            nn.ConvTranspose2d(4, 16, 2, stride=2), nn.BatchNorm2d(16), nn.ReLU(inplace=True),
            nn.ConvTranspose2d(16, 1, 2, stride=2), nn.Tanh(),
        )

    INFERENCE = FAST  # its score, the MSE, is continuous

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """Reconstruction in the input's (MNIST-normalised) space; tanh's -1..1 spans pixel values 0..1."""
        x = _as_input(x, self.encoder[0].weight)
        return ((self.decoder(self.encoder(x)) + 1) / 2 - MNIST_MEAN) / MNIST_STD


class DigitOrNot(nn.Module):
    """The trained outlier signal: a small CNN (3 conv layers 32-64-64, two max-pools, FC 128) with eleven outputs,
    the ten digits and "not a digit" (`data.UNKNOWN`), trained as one classifier (`losses.k_plus_one_loss`), so
    that it must learn each digit's shape, not only what sets the outliers apart (`leave_out.py --k-plus-one`
    measured it against one "not a digit" logit). Trained apart from the classifier (its closed-set accuracy stays
    untouched) on MNIST digits against outliers made by a program (`outliers`), both under the same random pen and
    blur (`augment.style_augment`) so that only shape tells them apart."""

    def __init__(self, width: int = 32, hidden: int = 128, outputs: int = UNKNOWN + 1, channels: int = 1):
        super().__init__()
        self.conv1 = nn.Conv2d(channels, width, 3, padding=1)
        self.conv2 = nn.Conv2d(width, 2 * width, 3, padding=1)
        self.conv3 = nn.Conv2d(2 * width, 2 * width, 3, padding=1)
        self.fc = nn.Linear(2 * width * 7 * 7, hidden)
        self.out = nn.Linear(hidden, outputs)  # other outputs, channels: leave_out.py's probes and candidates
        self.drop = nn.Dropout(0.3)

    INFERENCE = FAST

    def features(self, x: torch.Tensor) -> torch.Tensor:
        """Penultimate (fc) activations."""
        x = _pooled(self.conv1(_as_input(x, self.conv1.weight)))
        x = _relu(self.conv3(_pooled(self.conv2(x))))
        return _relu(self.fc(torch.flatten(x, 1)))

    def logits(self, x: torch.Tensor) -> torch.Tensor:
        """Every output's logit."""
        return self.out(self.drop(self.features(x)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """One score per image, higher = less like a digit: the log-odds of "not a digit" against the ten digits;
        with one output (a probe's binary network), its logit; with other counts, every logit."""
        logits = self.logits(x)
        if logits.shape[1] == UNKNOWN + 1:
            return _not_a_digit(logits)
        return logits[:, 0] if logits.shape[1] == 1 else logits

    def read(self, x: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Of an eleven-output network, from one pass: forward's score and the ten digits' log-probabilities (its
        reading of the digit, given that it is one)."""
        logits = self.logits(x)
        return _not_a_digit(logits), logits[:, :UNKNOWN].log_softmax(1)


def _not_a_digit(logits: torch.Tensor) -> torch.Tensor:
    """The log-odds of "not a digit" (the last of eleven outputs) against the ten digits."""
    return logits[:, UNKNOWN] - torch.logsumexp(logits[:, :UNKNOWN], 1)


class SystemB(nn.Module):
    """B's two networks, trained together with one optimizer (the seed's joint loss)."""

    def __init__(self):
        super().__init__()
        self.classifier = DeepCNN()
        self.autoencoder = BNAutoencoder()


def layer_table(net: nn.Module, compact: bool = False) -> "pandas.DataFrame":
    """A network's layers in a form that does not change with torch's version (its module repr does): one row per
    layer, with its type, weight shape, dropout rate where it has one, and parameter count; a total row last.
    `compact`: only the layers that hold parameters or drop out (activations, pooling and reshapes left out)."""
    import pandas as pd

    def shown(m: nn.Module) -> bool:
        return not compact or any(True for _ in m.parameters()) or isinstance(m, nn.modules.dropout._DropoutNd)

    rows = {name: {"type": type(m).__name__,
                   "weight shape": "x".join(map(str, m.weight.shape)) if getattr(m, "weight", None) is not None else "",
                   "dropout": m.p if isinstance(m, nn.modules.dropout._DropoutNd) else "",
                   "parameters": sum(p.numel() for p in m.parameters())}
            for name, m in net.named_modules() if name and not list(m.children()) and shown(m)}
    rows["total"] = {"type": "", "weight shape": "", "dropout": "", "parameters": sum(p.numel() for p in net.parameters())}
    return pd.DataFrame(rows).T


def for_inference(net: nn.Module, inference: tuple[torch.dtype, torch.memory_format] | None = None) -> nn.Module:
    """net in eval mode, in the inference dtype and weight layout its class declares (`INFERENCE`), or in
    `inference`'s."""
    dtype, layout = inference or net.INFERENCE
    return net.to(dtype=dtype, memory_format=layout).eval()
