/**
 * gb.optim: optimizers (SGD, Adagrad, Adadelta, RMSprop, Adam, AdamW, Adamax, NAdam, RAdam),
 * learning-rate schedulers (gb.optim.lrScheduler), early stopping and gradient
 * clipping, following torch.optim (and torch.nn.utils.clip_grad_*).
 */
export { Optimizer, type BaseOptions, type OptimizerStateDict, type ParamGroup, type ParamGroupSpec, type Params, type ParamSource, type ParamState } from "./optimizer.js";
export { SGD, type SGDOptions } from "./sgd.js";
export { Adam, AdamW, type AdamOptions } from "./adam.js";
export { Adagrad, type AdagradOptions } from "./adagrad.js";
export { Adadelta, type AdadeltaOptions } from "./adadelta.js";
export { RMSprop, type RMSpropOptions } from "./rmsprop.js";
export { Adamax, NAdam, RAdam, type AdamaxOptions, type NAdamOptions, type RAdamOptions } from "./adamax.js";
export { clipGradNorm_, clipGradValue_ } from "./clip_grad.js";
export * as lrScheduler from "./lr_scheduler.js";
export { EarlyStopping, type EarlyStoppingOptions, type HasStateDict } from "./early_stopping.js";
