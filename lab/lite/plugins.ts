/**
 * gradbook's own plugins for the JupyterLite site: the kernel (the kernelspec `gradbook`, as the
 * Node kernel's, so saved notebooks keep their metadata) with a kernel client whose interrupt
 * reaches the running kernel.
 */
import { PageConfig, URLExt } from "@jupyterlab/coreutils";
import type { Kernel, ServiceManagerPlugin } from "@jupyterlab/services";
import { IKernelClient, IKernelSpecs, LiteKernelClient } from "@jupyterlite/services";
import { GradbookKernel } from "./kernel";
import logo32 from "../../kernel/kernelspec/logo-32x32.png";
import logo64 from "../../kernel/kernelspec/logo-64x64.png";

/** The kernels of this page, by id (the client's interrupt finds them here). */
const kernels = new Map<string, GradbookKernel>();

/** JupyterLite's kernel client, with an interrupt that reaches the kernel (JupyterLite's only drops the queued requests). */
class GradbookKernelClient extends LiteKernelClient {
  override async interrupt(kernelId: string): Promise<void> {
    kernels.get(kernelId)?.interrupt();
    return super.interrupt(kernelId);
  }
}

/** Site files the kernel loads, under the page config's baseUrl. */
export function siteUrl(path: string): string {
  return new URL(URLExt.join(PageConfig.getBaseUrl(), path), location.href).href;
}

export const kernelPlugin: ServiceManagerPlugin<Kernel.IKernelAPIClient> = {
  id: "@gradbook/lite:kernel",
  description: "The gradbook TypeScript kernel, running in a Web Worker, and the kernel client that interrupts it.",
  autoStart: true,
  requires: [IKernelSpecs],
  provides: IKernelClient,
  activate: (_: null, specs: IKernelSpecs) => {
    specs.register({
      spec: {
        name: "gradbook",
        display_name: "TypeScript (gradbook)",
        language: "typescript",
        argv: [],
        resources: { "logo-32x32": logo32, "logo-64x64": logo64 },
      },
      create: async (options) => {
        const kernel = new GradbookKernel({ ...options, dataUrl: siteUrl("data/"), languageEnvUrl: siteUrl(PageConfig.getOption("gradbookLanguageEnv")), plotlyUrl: siteUrl("build/plotly.min.js") });
        kernels.set(kernel.id, kernel);
        kernel.disposed.connect(() => kernels.get(kernel.id) === kernel && kernels.delete(kernel.id));
        return kernel;
      },
    });
    return new GradbookKernelClient({ kernelSpecs: specs });
  },
};
