"""PyTorch side of `npm run bench -- engine`.

Trains the same architectures as the engine's builders (small CNN 16-32-64, CIFAR ResNet-20
with 1x1-conv shortcuts) on random 28x28x1 batches with SGD + momentum, and measures a 3x3
convolution's forward and filter-gradient throughput. Prints one JSON object on stdout.

Usage: python3 pytorch_engine_peer.py '{"threads": 2, "batch": 64, "seconds": 8, ...}'
"""
import json
import sys
import time

import torch
import torch.nn as nn
import torch.nn.functional as F


def conv_bn(cin, cout, k=3, stride=1):
    return nn.Sequential(
        nn.Conv2d(cin, cout, k, stride=stride, padding=k // 2, bias=False), nn.BatchNorm2d(cout)
    )


class SmallCnn(nn.Module):
    def __init__(self, in_ch=1, classes=10, widths=(16, 32, 64)):
        super().__init__()
        self.stages = nn.ModuleList()
        cin = in_ch
        for w in widths:
            self.stages.append(conv_bn(cin, w))
            cin = w
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        for i, stage in enumerate(self.stages):
            x = F.relu(stage(x))
            if i < 2:
                x = F.max_pool2d(x, 2, 2)
        return self.fc(x.mean((2, 3)))


class BasicBlock(nn.Module):
    def __init__(self, cin, cout, stride):
        super().__init__()
        self.branch1 = conv_bn(cin, cout, 3, stride)
        self.branch2 = conv_bn(cout, cout, 3, 1)
        self.shortcut = conv_bn(cin, cout, 1, stride) if stride != 1 or cin != cout else None

    def forward(self, x):
        y = self.branch2(F.relu(self.branch1(x)))
        return F.relu(y + (self.shortcut(x) if self.shortcut is not None else x))


class ResNet(nn.Module):
    def __init__(self, depth=20, in_ch=1, classes=10, widths=(16, 32, 64)):
        super().__init__()
        n = (depth - 2) // 6
        self.stem = conv_bn(in_ch, widths[0])
        blocks, cin = [], widths[0]
        for stage, w in enumerate(widths):
            for b in range(n):
                blocks.append(BasicBlock(cin, w, 2 if stage > 0 and b == 0 else 1))
                cin = w
        self.blocks = nn.Sequential(*blocks)
        self.fc = nn.Linear(cin, classes)

    def forward(self, x):
        return self.fc(self.blocks(F.relu(self.stem(x))).mean((2, 3)))


MODELS = {"small-cnn": SmallCnn, "resnet20": lambda: ResNet(20)}


def timed_steps(step, seconds, min_steps, max_steps, warmup):
    for _ in range(warmup):
        step()
    start, steps = time.perf_counter(), 0
    while steps < min_steps or (time.perf_counter() - start < seconds and steps < max_steps):
        step()
        steps += 1
    return steps, time.perf_counter() - start


def train_throughput(name, cfg):
    torch.manual_seed(0)
    model = MODELS[name]().train()
    opt = torch.optim.SGD(model.parameters(), lr=0.01, momentum=0.9)
    x = torch.randn(cfg["batch"], 1, 28, 28)
    y = torch.randint(0, 10, (cfg["batch"],))

    def step():
        opt.zero_grad(set_to_none=True)
        F.cross_entropy(model(x), y).backward()
        opt.step()

    steps, secs = timed_steps(step, cfg["seconds"], cfg["min_steps"], cfg["max_steps"], 3)
    return {"name": name, "imgs_per_s": steps * cfg["batch"] / secs, "steps": steps}


def conv_throughput(cfg):
    n, h, w, cin, cout = cfg["conv"]
    x = torch.randn(n, cin, h, w)
    weight = torch.randn(cout, cin, 3, 3)
    dy = torch.randn(n, cout, h, w)
    flops = 2 * n * h * w * cin * cout * 9
    out = {}
    with torch.no_grad():
        fwd = lambda: F.conv2d(x, weight, padding=1)
        # aten's filter-gradient entry point, as autograd calls it for conv2d.
        wgrad = lambda: torch.ops.aten.convolution_backward(
            dy, x, weight, None, [1, 1], [1, 1], [1, 1], False, [0, 0], 1, [False, True, False]
        )
        for key, fn in (("forward", fwd), ("filter_grad", wgrad)):
            steps, secs = timed_steps(fn, cfg["seconds"] / 2, 3, 50, 2)
            out[key] = flops * steps / secs / 1e9
    return out


def main():
    cfg = json.loads(sys.argv[1])
    torch.set_num_threads(cfg["threads"])
    result = {
        "torch": torch.__version__,
        "threads": torch.get_num_threads(),
        "cases": [train_throughput(m, cfg) for m in cfg["models"]],
    }
    if cfg.get("conv"):
        result["conv_gflops"] = conv_throughput(cfg)
    print(json.dumps(result))


if __name__ == "__main__":
    main()
