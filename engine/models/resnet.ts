/**
 * ResNet (He et al., 2015), torchvision's definition and state-dict names
 * (conv1, bn1, layer1.0.conv1, ..., layer2.0.downsample.0, fc), so torchvision
 * weights load: resnet18 (11,689,512 parameters), resnet34 (21,797,672), resnet50 (25,557,032).
 *
 *   const net = gb.models.resnet18({ numClasses: 10, small: true });   // CIFAR-style stem for 32x32 images
 *
 * `small: true` replaces the 7x7/2 stem and its max pooling by a 3x3/1 convolution
 * (the usual CIFAR variant); names stay the same (the pooling becomes an Identity).
 */
import * as nn from "../nn/index.js";
import { Module } from "../nn/module.js";
import * as init from "../nn/init.js";
import { shapeStr } from "../shape.js";
import type { Tensor } from "../tensor.js";

const conv3x3 = (i: number, o: number, stride = 1) => new nn.Conv2d(i, o, 3, { stride, padding: 1, bias: false });
const conv1x1 = (i: number, o: number, stride = 1) => new nn.Conv2d(i, o, 1, { stride, bias: false });

/** Two 3x3 convolutions with a shortcut (ResNet-18/34). */
export class BasicBlock extends Module {
  static readonly expansion = 1;
  conv1: nn.Conv2d;
  bn1: nn.BatchNorm2d;
  relu = new nn.ReLU();
  conv2: nn.Conv2d;
  bn2: nn.BatchNorm2d;
  downsample: nn.Sequential | null;
  constructor(inplanes: number, planes: number, stride = 1, downsample: nn.Sequential | null = null) {
    super();
    this.conv1 = conv3x3(inplanes, planes, stride);
    this.bn1 = new nn.BatchNorm2d(planes);
    this.conv2 = conv3x3(planes, planes);
    this.bn2 = new nn.BatchNorm2d(planes);
    this.downsample = downsample;
  }
  forward(x: Tensor): Tensor {
    let out = this.relu.call(this.bn1.call(this.conv1.call(x)));
    out = this.bn2.call(this.conv2.call(out));
    const identity = this.downsample ? this.downsample.call(x) : x;
    return this.relu.call(out.add(identity));
  }
}

/** 1x1 → 3x3 → 1x1 (x4 channels) with a shortcut (ResNet-50 and deeper; stride on the 3x3 as torchvision's v1.5). */
export class Bottleneck extends Module {
  static readonly expansion = 4;
  conv1: nn.Conv2d;
  bn1: nn.BatchNorm2d;
  conv2: nn.Conv2d;
  bn2: nn.BatchNorm2d;
  conv3: nn.Conv2d;
  bn3: nn.BatchNorm2d;
  relu = new nn.ReLU();
  downsample: nn.Sequential | null;
  constructor(inplanes: number, planes: number, stride = 1, downsample: nn.Sequential | null = null) {
    super();
    this.conv1 = conv1x1(inplanes, planes);
    this.bn1 = new nn.BatchNorm2d(planes);
    this.conv2 = conv3x3(planes, planes, stride);
    this.bn2 = new nn.BatchNorm2d(planes);
    this.conv3 = conv1x1(planes, planes * 4);
    this.bn3 = new nn.BatchNorm2d(planes * 4);
    this.downsample = downsample;
  }
  forward(x: Tensor): Tensor {
    let out = this.relu.call(this.bn1.call(this.conv1.call(x)));
    out = this.relu.call(this.bn2.call(this.conv2.call(out)));
    out = this.bn3.call(this.conv3.call(out));
    const identity = this.downsample ? this.downsample.call(x) : x;
    return this.relu.call(out.add(identity));
  }
}

export interface ResNetOptions {
  numClasses?: number;
  inChannels?: number;
  /** CIFAR-style stem for small images: conv1 3x3/1 and no max pooling (default false). */
  small?: boolean;
  /** Zero the last BatchNorm weight of each block, so blocks start as identities (default false, as torchvision). */
  zeroInitResidual?: boolean;
}

type BlockClass = typeof BasicBlock | typeof Bottleneck;

export class ResNet extends Module {
  conv1: nn.Conv2d;
  bn1: nn.BatchNorm2d;
  relu = new nn.ReLU();
  maxpool: nn.MaxPool2d | nn.Identity;
  layer1: nn.Sequential;
  layer2: nn.Sequential;
  layer3: nn.Sequential;
  layer4: nn.Sequential;
  avgpool = new nn.AdaptiveAvgPool2d([1, 1]);
  fc: nn.Linear;
  readonly inChannels: number;
  private inplanes = 64;

  constructor(block: BlockClass, layers: [number, number, number, number], opts: ResNetOptions = {}) {
    super();
    Object.defineProperty(this, "inplanes", { enumerable: false, writable: true, value: 64 });
    const numClasses = opts.numClasses ?? 1000;
    const inChannels = opts.inChannels ?? 3;
    for (const [k, v] of [["numClasses", numClasses], ["inChannels", inChannels]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`ResNet: ${k} must be a positive integer, got ${v}`);
    }
    this.inChannels = inChannels;
    this.conv1 = opts.small ? new nn.Conv2d(inChannels, 64, 3, { stride: 1, padding: 1, bias: false }) : new nn.Conv2d(inChannels, 64, 7, { stride: 2, padding: 3, bias: false });
    this.bn1 = new nn.BatchNorm2d(64);
    this.maxpool = opts.small ? new nn.Identity() : new nn.MaxPool2d(3, { stride: 2, padding: 1 });
    this.layer1 = this.makeLayer(block, 64, layers[0]);
    this.layer2 = this.makeLayer(block, 128, layers[1], 2);
    this.layer3 = this.makeLayer(block, 256, layers[2], 2);
    this.layer4 = this.makeLayer(block, 512, layers[3], 2);
    // the avgpool field keeps its place in the declaration order, as in torchvision
    this.fc = new nn.Linear(512 * block.expansion, numClasses);
    for (const m of this.modules()) {
      if (m instanceof nn.Conv2d) init.kaimingNormal_(m.weight, { mode: "fanOut", nonlinearity: "relu" });
    }
    if (opts.zeroInitResidual) {
      for (const m of this.modules()) {
        if (m instanceof Bottleneck && m.bn3.weight) init.zeros_(m.bn3.weight);
        if (m instanceof BasicBlock && m.bn2.weight) init.zeros_(m.bn2.weight);
      }
    }
  }

  private makeLayer(block: BlockClass, planes: number, blocks: number, stride = 1): nn.Sequential {
    let downsample: nn.Sequential | null = null;
    if (stride !== 1 || this.inplanes !== planes * block.expansion) {
      downsample = new nn.Sequential(conv1x1(this.inplanes, planes * block.expansion, stride), new nn.BatchNorm2d(planes * block.expansion));
    }
    const mods: Module[] = [new block(this.inplanes, planes, stride, downsample)];
    this.inplanes = planes * block.expansion;
    for (let i = 1; i < blocks; i++) mods.push(new block(this.inplanes, planes));
    return new nn.Sequential(...mods);
  }

  /** x [N, inChannels, H, W] → class scores [N, numClasses]. */
  forward(x: Tensor): Tensor {
    if (x.shape.length !== 4 || x.shape[1] !== this.inChannels) {
      throw new Error(`ResNet: expected input [N, ${this.inChannels}, H, W], got ${shapeStr(x.shape)}${x.shape.length === 3 ? " (add the batch dimension with x.unsqueeze(0))" : ""}`);
    }
    let h = this.maxpool.call(this.relu.call(this.bn1.call(this.conv1.call(x))));
    h = this.layer4.call(this.layer3.call(this.layer2.call(this.layer1.call(h))));
    return this.fc.call(this.avgpool.call(h).flatten(1));
  }
}

/** ResNet-18: BasicBlocks [2, 2, 2, 2]. */
export const resnet18 = (opts: ResNetOptions = {}) => new ResNet(BasicBlock, [2, 2, 2, 2], opts);
/** ResNet-34: BasicBlocks [3, 4, 6, 3]. */
export const resnet34 = (opts: ResNetOptions = {}) => new ResNet(BasicBlock, [3, 4, 6, 3], opts);
/** ResNet-50: Bottlenecks [3, 4, 6, 3]. */
export const resnet50 = (opts: ResNetOptions = {}) => new ResNet(Bottleneck, [3, 4, 6, 3], opts);
