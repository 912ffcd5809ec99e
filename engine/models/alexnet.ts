/**
 * AlexNet (Krizhevsky, Sutskever & Hinton, 2012), torchvision's definition:
 *
 *   features:   0 conv 3→64 k11 s4 p2 · 1 ReLU · 2 maxpool 3/2 · 3 conv 64→192 k5 p2 · 4 ReLU · 5 maxpool 3/2 ·
 *               6 conv 192→384 k3 p1 · 7 ReLU · 8 conv 384→256 k3 p1 · 9 ReLU · 10 conv 256→256 k3 p1 · 11 ReLU · 12 maxpool 3/2
 *   avgpool:    adaptive average pooling to 6x6
 *   classifier: 0 Dropout · 1 Linear 9216→4096 · 2 ReLU · 3 Dropout · 4 Linear 4096→4096 · 5 ReLU · 6 Linear 4096→numClasses
 *
 * 61,100,840 parameters at 1000 classes, and the same state-dict names as
 * torchvision (features.0.weight, ..., classifier.6.bias), so its weights load.
 * It takes 224x224 images (anything from 63x63 up works, thanks to the adaptive pooling).
 *
 * Options: `lrn: true` adds the paper's local response normalisation after the
 * first two ReLUs (the feature indices then shift: names differ from torchvision);
 * `small: true` is a variant for 28x28–64x64 inputs (Fashion-MNIST, CIFAR) that
 * keeps the five-conv / three-FC shape: C1 is 5x5 with stride 1 and padding 2, the
 * adaptive pooling goes to 2x2 and the hidden FC layers have `hidden` (default 1024) units.
 */
import * as nn from "../nn/index.js";
import { Module } from "../nn/module.js";
import { shapeStr } from "../shape.js";
import type { Tensor } from "../tensor.js";

export interface AlexNetOptions {
  numClasses?: number;
  inChannels?: number;
  /** Dropout probability in the classifier (default 0.5). */
  dropout?: number;
  /** Local response normalisation (size 5, alpha 1e-4, beta 0.75, k 2) after the first two ReLUs, as in the paper (default false, as torchvision). */
  lrn?: boolean;
  /** The small-input variant (28x28 to 64x64 images; see above). */
  small?: boolean;
  /** Units of the two hidden FC layers (default 4096, small: 1024). */
  hidden?: number;
}

export class AlexNet extends Module {
  features: nn.Sequential;
  avgpool: nn.AdaptiveAvgPool2d;
  classifier: nn.Sequential;
  readonly numClasses: number;
  readonly inChannels: number;
  readonly small: boolean;

  constructor(opts: AlexNetOptions = {}) {
    super();
    const numClasses = opts.numClasses ?? 1000;
    const inChannels = opts.inChannels ?? 3;
    const p = opts.dropout ?? 0.5;
    const small = opts.small ?? false;
    const hidden = opts.hidden ?? (small ? 1024 : 4096);
    const pooled = small ? 2 : 6;
    for (const [k, v] of [["numClasses", numClasses], ["inChannels", inChannels], ["hidden", hidden]] as const) {
      if (!Number.isInteger(v) || v < 1) throw new Error(`AlexNet: ${k} must be a positive integer, got ${v}`);
    }
    if (!(p >= 0 && p < 1)) throw new Error(`AlexNet: dropout must be in [0, 1), got ${p}`);
    const lrn = () => new nn.LocalResponseNorm(5, { alpha: 1e-4, beta: 0.75, k: 2 });
    const layers: Module[] = [
      small ? new nn.Conv2d(inChannels, 64, 5, { stride: 1, padding: 2 }) : new nn.Conv2d(inChannels, 64, 11, { stride: 4, padding: 2 }),
      new nn.ReLU(),
      ...(opts.lrn ? [lrn()] : []),
      new nn.MaxPool2d(3, { stride: 2 }),
      new nn.Conv2d(64, 192, 5, { padding: 2 }),
      new nn.ReLU(),
      ...(opts.lrn ? [lrn()] : []),
      new nn.MaxPool2d(3, { stride: 2 }),
      new nn.Conv2d(192, 384, 3, { padding: 1 }),
      new nn.ReLU(),
      new nn.Conv2d(384, 256, 3, { padding: 1 }),
      new nn.ReLU(),
      new nn.Conv2d(256, 256, 3, { padding: 1 }),
      new nn.ReLU(),
      new nn.MaxPool2d(3, { stride: 2 }),
    ];
    this.features = new nn.Sequential(...layers);
    this.avgpool = new nn.AdaptiveAvgPool2d([pooled, pooled]);
    this.classifier = new nn.Sequential(
      new nn.Dropout(p),
      new nn.Linear(256 * pooled * pooled, hidden),
      new nn.ReLU(),
      new nn.Dropout(p),
      new nn.Linear(hidden, hidden),
      new nn.ReLU(),
      new nn.Linear(hidden, numClasses),
    );
    this.numClasses = numClasses;
    this.inChannels = inChannels;
    this.small = small;
  }

  /** The smallest input side that survives the feature extractor. */
  get minInputSize(): number {
    return this.small ? 15 : 63;
  }

  /** x [N, inChannels, H, W] → class scores [N, numClasses] (logits). */
  forward(x: Tensor): Tensor {
    if (x.shape.length !== 4 || x.shape[1] !== this.inChannels) {
      throw new Error(`AlexNet: expected input [N, ${this.inChannels}, H, W], got ${shapeStr(x.shape)}${x.shape.length === 3 ? " (add the batch dimension with x.unsqueeze(0))" : ""}`);
    }
    const m = this.minInputSize;
    if (x.shape[2] < m || x.shape[3] < m) {
      throw new Error(`AlexNet: input ${shapeStr(x.shape)} is too small: ${this.small ? "the small variant" : "AlexNet"} needs at least ${m}x${m}${this.small ? "" : " (224x224 is standard; use { small: true } for 28x28 to 64x64 images)"}`);
    }
    return this.classifier.call(this.avgpool.call(this.features.call(x)).flatten(1));
  }
}
