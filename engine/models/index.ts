/**
 * gb.models: classic networks, ready to train — Rosenblatt's Perceptron, MLP,
 * LeNet-5 and AlexNet (torchvision's definition and state-dict names).
 */
export { Perceptron, type RosenblattOptions, type RosenblattResult } from "./perceptron.js";
export { MLP, type MLPOptions } from "./mlp.js";
export { LeNet5, type LeNet5Options } from "./lenet.js";
export { AlexNet, type AlexNetOptions } from "./alexnet.js";
export type { Activation, ActivationName } from "./activations.js";
