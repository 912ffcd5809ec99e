/** Activation choices by name, shared by the model constructors. */
import { Module } from "../nn/module.js";
import * as nn from "../nn/layers.js";

export type ActivationName = "relu" | "tanh" | "sigmoid" | "gelu" | "silu" | "elu" | "leakyRelu" | "relu6" | "softplus" | "step" | "identity" | "softmax" | "logSoftmax";

/** An activation: a name, or a function returning a fresh module. */
export type Activation = ActivationName | (() => Module);

export function makeActivation(what: string, a: Activation): Module {
  if (typeof a === "function") {
    const m = a();
    if (!(m instanceof Module)) throw new Error(`${what}: the activation factory must return a Module`);
    return m;
  }
  switch (a) {
    case "relu": return new nn.ReLU();
    case "tanh": return new nn.Tanh();
    case "sigmoid": return new nn.Sigmoid();
    case "gelu": return new nn.GELU();
    case "silu": return new nn.SiLU();
    case "elu": return new nn.ELU();
    case "leakyRelu": return new nn.LeakyReLU();
    case "relu6": return new nn.ReLU6();
    case "softplus": return new nn.Softplus();
    case "step": return new nn.Step();
    case "identity": return new nn.Identity();
    case "softmax": return new nn.Softmax(-1);
    case "logSoftmax": return new nn.LogSoftmax(-1);
    default:
      throw new Error(`${what}: unknown activation "${String(a)}" (use relu, tanh, sigmoid, gelu, silu, elu, leakyRelu, relu6, softplus, step, identity, softmax, logSoftmax, or a function returning a Module)`);
  }
}
