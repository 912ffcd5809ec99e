/**
 * gb.models: classic networks, ready to train — Rosenblatt's Perceptron, MLP,
 * LeNet-5, AlexNet and ResNet-18/34/50 (torchvision's definitions and state-dict names).
 */
export { Perceptron, type RosenblattOptions, type RosenblattResult } from "./perceptron.js";
export { MLP, type MLPOptions } from "./mlp.js";
export { LeNet5, type LeNet5Options } from "./lenet.js";
export { AlexNet, type AlexNetOptions } from "./alexnet.js";
export type { Activation, ActivationName } from "./activations.js";
export { ResNet, BasicBlock, Bottleneck, resnet18, resnet34, resnet50, type ResNetOptions } from "./resnet.js";
