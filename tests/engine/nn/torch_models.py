"""PyTorch definitions of the architectures the gradbook nn tests rebuild
(tests/engine/nn/modules.test.ts builds the same ones with gb.nn)."""
import torch.nn as nn


def mlp():
    # the lecture's MLP: 3 inputs, two hidden layers of 4, one output (41 parameters)
    return nn.Sequential(nn.Linear(3, 4), nn.Tanh(), nn.Linear(4, 4), nn.Tanh(), nn.Linear(4, 1))


def lenet():
    # LeNet-5 as in d2l (sigmoid, average pooling), input 1x28x28
    return nn.Sequential(
        nn.Conv2d(1, 6, kernel_size=5, padding=2), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Conv2d(6, 16, kernel_size=5), nn.Sigmoid(),
        nn.AvgPool2d(kernel_size=2, stride=2),
        nn.Flatten(),
        nn.Linear(16 * 5 * 5, 120), nn.Sigmoid(),
        nn.Linear(120, 84), nn.Sigmoid(),
        nn.Linear(84, 10))


class AlexNet(nn.Module):
    # torchvision.models.alexnet's definition
    def __init__(self, num_classes=1000, dropout=0.5):
        super().__init__()
        self.features = nn.Sequential(
            nn.Conv2d(3, 64, kernel_size=11, stride=4, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(64, 192, kernel_size=5, padding=2),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
            nn.Conv2d(192, 384, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(384, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.Conv2d(256, 256, kernel_size=3, padding=1),
            nn.ReLU(inplace=True),
            nn.MaxPool2d(kernel_size=3, stride=2),
        )
        self.avgpool = nn.AdaptiveAvgPool2d((6, 6))
        self.classifier = nn.Sequential(
            nn.Dropout(p=dropout),
            nn.Linear(256 * 6 * 6, 4096),
            nn.ReLU(inplace=True),
            nn.Dropout(p=dropout),
            nn.Linear(4096, 4096),
            nn.ReLU(inplace=True),
            nn.Linear(4096, num_classes),
        )

    def forward(self, x):
        x = self.features(x)
        x = self.avgpool(x)
        x = x.flatten(1)
        return self.classifier(x)


class BnCnn(nn.Module):
    # a small CNN with batch norm, LRN, transposed conv and dropout: state dicts with buffers
    def __init__(self):
        super().__init__()
        self.conv = nn.Conv2d(2, 4, 3, padding=1)
        self.bn = nn.BatchNorm2d(4)
        self.lrn = nn.LocalResponseNorm(3, alpha=1e-2, beta=0.75, k=2.0)
        self.pool = nn.MaxPool2d(2)
        self.up = nn.ConvTranspose2d(4, 3, 2, stride=2, bias=False)
        self.head = nn.Sequential(nn.Flatten(), nn.Linear(3 * 8 * 8, 5), nn.BatchNorm1d(5), nn.Dropout(0.3), nn.ELU(), nn.Linear(5, 3))

    def forward(self, x):
        x = self.pool(self.lrn(self.bn(self.conv(x)).relu()))
        return self.head(self.up(x))


ARCHS = {"mlp": (mlp, [3]), "lenet": (lenet, [1, 28, 28]), "alexnet": (AlexNet, [3, 224, 224]), "bncnn": (BnCnn, [2, 8, 8])}
