/**
 * gb.nn: modules (layers and containers), gb.nn.functional (alias gb.nn.F),
 * gb.nn.init, gb.nn.summary and safetensors save/load — PyTorch's torch.nn in camelCase.
 *
 *   const model = new gb.nn.Sequential(new gb.nn.Linear(3, 4), new gb.nn.Tanh(), new gb.nn.Linear(4, 1));
 *   const y = model.call(x);            // model(x) in PyTorch; model.forward(x) skips hooks
 *   await model.save("mlp.safetensors");
 */
export * as functional from "./functional.js";
export * as F from "./functional.js";
export * as init from "./init.js";
export * as safetensors from "./safetensors.js";
export { saveFile as save, loadFile as load, type StateDict } from "./safetensors.js";
export { Module, Parameter, type ForwardHook, type ForwardPreHook, type HookHandle, type LoadResult } from "./module.js";
export * from "./layers.js";
export * from "./norm-layers.js";
export * from "./loss-layers.js";
export { summary, Summary, type SummaryLayer } from "./summary.js";
