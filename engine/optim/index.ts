/**
 * gb.optim: optimizers (SGD, Adagrad, Adadelta, RMSprop, Adam, AdamW), learning-rate
 * schedulers (gb.optim.lrScheduler) and early stopping, following torch.optim.
 */
export { Optimizer, type BaseOptions, type OptimizerStateDict, type ParamGroup, type ParamGroupSpec, type Params, type ParamSource, type ParamState } from "./optimizer.js";
export { SGD, type SGDOptions } from "./sgd.js";
export { Adam, AdamW, type AdamOptions } from "./adam.js";
export { Adagrad, type AdagradOptions } from "./adagrad.js";
export { Adadelta, type AdadeltaOptions } from "./adadelta.js";
export { RMSprop, type RMSpropOptions } from "./rmsprop.js";
export * as lrScheduler from "./lr_scheduler.js";
export { EarlyStopping, type EarlyStoppingOptions, type HasStateDict } from "./early_stopping.js";
