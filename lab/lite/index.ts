/**
 * gradbook's JupyterLite site: JupyterLab running entirely in the page, with the same extensions,
 * widgets manager and Plotly renderer as gradbook's JupyterLab (../src/extensions.ts), JupyterLite's
 * in-browser services (contents in the browser's storage over the site's files, settings, kernels)
 * and the gradbook kernel in a Web Worker (./plugins.ts). Built by scripts/lite.mjs into dist/lite/.
 */
import "../src/style";
import "@jupyterlite/application-extension/style/index.js";
import "@jupyterlite/apputils-extension/style/index.js";
import { JupyterLab, type JupyterFrontEndPlugin } from "@jupyterlab/application";
import { PageConfig } from "@jupyterlab/coreutils";
import { IServiceManager } from "@jupyterlab/services";
import * as servicesExtension from "@jupyterlab/services-extension";
import * as liteApplicationExtension from "@jupyterlite/application-extension";
import * as liteApputilsExtension from "@jupyterlite/apputils-extension";
import * as liteServicesExtension from "@jupyterlite/services-extension";
import { PluginRegistry } from "@lumino/coreutils";
import { disabledPlugins, labExtensions, mimeExtensions, pluginsOf, widgetExtensions, type PluginModule } from "../src/extensions";
import { kernelPlugin } from "./plugins";
import { validatePlugin } from "./validate";

/**
 * Plugins left out: the lab's own list, JupyterLab's server-backed ones that JupyterLite's
 * services replace (as JupyterLite's lab app does), and JupyterLite's that need what the site
 * does not have (its service worker for kernels' file access, the language-server client).
 */
const disabled = [
  ...disabledPlugins,
  "@jupyterlab/application-extension:logo",
  "@jupyterlab/application-extension:main",
  "@jupyterlab/application-extension:tree-resolver",
  "@jupyterlab/application-extension:router",
  "@jupyterlab/apputils-extension:licenses-client",
  "@jupyterlab/apputils-extension:resolver",
  "@jupyterlab/apputils-extension:workspaces",
  "@jupyterlab/docmanager-extension:download",
  "@jupyterlab/filebrowser-extension:download",
  "@jupyterlab/filebrowser-extension:share-file",
  "@jupyterlab/help-extension:about",
  "@jupyterlab/translation-extension:translator-connector",
  "@jupyterlab/services-extension:config-section-manager",
  "@jupyterlab/services-extension:connection-status",
  "@jupyterlab/services-extension:default-drive",
  "@jupyterlab/services-extension:event-manager",
  "@jupyterlab/services-extension:kernel-manager",
  "@jupyterlab/services-extension:kernel-spec-manager",
  "@jupyterlab/services-extension:nbconvert-manager",
  "@jupyterlab/services-extension:session-manager",
  "@jupyterlab/services-extension:setting-manager",
  "@jupyterlab/services-extension:user-manager",
  "@jupyterlab/services-extension:workspace-manager",
  "@jupyterlite/application-extension:lsp-connection-manager",
  "@jupyterlite/application-extension:service-worker-manager",
  // replaced by gradbook's (its interrupt reaches the kernel)
  "@jupyterlite/services-extension:kernel-client",
];

async function main(): Promise<void> {
  const keep = (p: { id: string }) => !PageConfig.Extension.isDisabled(p.id);
  const modules: Record<string, PluginModule> = {
    ...labExtensions,
    ...widgetExtensions,
    "@jupyterlab/services-extension": servicesExtension as unknown as PluginModule,
    "@jupyterlite/application-extension": liteApplicationExtension as unknown as PluginModule,
    "@jupyterlite/apputils-extension": liteApputilsExtension as unknown as PluginModule,
    "@jupyterlite/services-extension": liteServicesExtension as unknown as PluginModule,
    "@gradbook/lite": { default: [kernelPlugin as unknown as JupyterFrontEndPlugin<unknown>, validatePlugin as JupyterFrontEndPlugin<unknown>] },
  };
  const plugins = pluginsOf(modules, disabled).filter(keep);
  const registry = new PluginRegistry();
  registry.registerPlugins(plugins);
  // the service manager first (JupyterLite's services), then the application on it
  const serviceManager = await registry.resolveRequiredService(IServiceManager);
  // (as ES modules: JupyterLab reads `default` only from objects marked __esModule)
  const mime = pluginsOf(mimeExtensions, disabled).filter(keep).map((e) => ({ __esModule: true, default: e }));
  const lab = new JupyterLab({ pluginRegistry: registry, serviceManager, mimeExtensions: mime });
  if (PageConfig.getOption("exposeAppInBrowser").toLowerCase() === "true") (window as any).jupyterapp = lab;
  await lab.start();
  await lab.restored;
  document.body.dataset.gbLab = "restored";
  // the service worker now fetches the rest of the app and the notebooks, for offline use (sw.ts)
  navigator.serviceWorker?.ready.then((reg) => reg.active?.postMessage({ kind: "precache" })).catch(() => {});
}

void main();
