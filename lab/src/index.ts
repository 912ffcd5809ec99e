/**
 * gradbook's JupyterLab: the entry of the bundle served by `lab/server` (`npm start`).
 * The extension lists live in extensions.ts so that other front ends (JupyterLite, the class
 * hub) build from the same ones.
 */
import "./style";
import { JupyterLab } from "@jupyterlab/application";
import { PageConfig } from "@jupyterlab/coreutils";
import { disabledPlugins, gradbookExtensions, labExtensions, mimeExtensions, pluginsOf, widgetExtensions } from "./extensions";

async function main(): Promise<void> {
  // the page config's disabledExtensions (e.g. from a server's labconfig) apply too
  const keep = (p: { id: string }) => !PageConfig.Extension.isDisabled(p.id);
  const mime = pluginsOf(mimeExtensions, disabledPlugins).filter(keep);
  // as ES modules: JupyterLab reads `default` only from objects marked __esModule
  const lab = new JupyterLab({ mimeExtensions: mime.map((e) => ({ __esModule: true, default: e })) });
  lab.registerPlugins(pluginsOf({ ...labExtensions, ...widgetExtensions, ...gradbookExtensions }, disabledPlugins).filter(keep));
  // as JupyterLab's own page does: tests and debugging reach the app when the page config asks
  if (PageConfig.getOption("exposeAppInBrowser").toLowerCase() === "true") (window as any).jupyterapp = lab;
  await lab.start();
  await lab.restored;
  document.body.dataset.gbLab = "restored";
}

void main();
