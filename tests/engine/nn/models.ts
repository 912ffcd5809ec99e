// The architectures of torch_models.py, built with gb.nn (same layer order and names).
import * as gb from "../../../engine/index.ts";
import type { Tensor } from "../../../engine/index.ts";

const nn = gb.nn;

export function mlp() {
  return new nn.Sequential(new nn.Linear(3, 4), new nn.Tanh(), new nn.Linear(4, 4), new nn.Tanh(), new nn.Linear(4, 1));
}

export function lenet() {
  return new nn.Sequential(
    new nn.Conv2d(1, 6, 5, { padding: 2 }), new nn.Sigmoid(),
    new nn.AvgPool2d(2, { stride: 2 }),
    new nn.Conv2d(6, 16, 5), new nn.Sigmoid(),
    new nn.AvgPool2d(2, { stride: 2 }),
    new nn.Flatten(),
    new nn.Linear(16 * 5 * 5, 120), new nn.Sigmoid(),
    new nn.Linear(120, 84), new nn.Sigmoid(),
    new nn.Linear(84, 10),
  );
}

/** torchvision's AlexNet. */
export class AlexNet extends nn.Module {
  features = new nn.Sequential(
    new nn.Conv2d(3, 64, 11, { stride: 4, padding: 2 }),
    new nn.ReLU(),
    new nn.MaxPool2d(3, { stride: 2 }),
    new nn.Conv2d(64, 192, 5, { padding: 2 }),
    new nn.ReLU(),
    new nn.MaxPool2d(3, { stride: 2 }),
    new nn.Conv2d(192, 384, 3, { padding: 1 }),
    new nn.ReLU(),
    new nn.Conv2d(384, 256, 3, { padding: 1 }),
    new nn.ReLU(),
    new nn.Conv2d(256, 256, 3, { padding: 1 }),
    new nn.ReLU(),
    new nn.MaxPool2d(3, { stride: 2 }),
  );
  avgpool = new nn.AdaptiveAvgPool2d([6, 6]);
  classifier: InstanceType<typeof nn.Sequential>;
  constructor(numClasses = 1000, dropout = 0.5) {
    super();
    this.classifier = new nn.Sequential(
      new nn.Dropout(dropout),
      new nn.Linear(256 * 6 * 6, 4096),
      new nn.ReLU(),
      new nn.Dropout(dropout),
      new nn.Linear(4096, 4096),
      new nn.ReLU(),
      new nn.Linear(4096, numClasses),
    );
  }
  forward(x: Tensor): Tensor {
    x = this.features.call(x);
    x = this.avgpool.call(x);
    return this.classifier.call(x.flatten(1));
  }
}

/** A small CNN with batch norm, LRN, transposed conv and dropout. */
export class BnCnn extends nn.Module {
  conv = new nn.Conv2d(2, 4, 3, { padding: 1 });
  bn = new nn.BatchNorm2d(4);
  lrn = new nn.LocalResponseNorm(3, { alpha: 1e-2, beta: 0.75, k: 2.0 });
  pool = new nn.MaxPool2d(2);
  up = new nn.ConvTranspose2d(4, 3, 2, { stride: 2, bias: false });
  head = new nn.Sequential(new nn.Flatten(), new nn.Linear(3 * 8 * 8, 5), new nn.BatchNorm1d(5), new nn.Dropout(0.3), new nn.ELU(), new nn.Linear(5, 3));
  forward(x: Tensor): Tensor {
    x = this.pool.call(this.lrn.call(this.bn.call(this.conv.call(x)).relu()));
    return this.head.call(this.up.call(x));
  }
}

export const ARCHS: Record<string, () => InstanceType<typeof nn.Module>> = {
  mlp,
  lenet,
  alexnet: () => new AlexNet(),
  bncnn: () => new BnCnn(),
};
