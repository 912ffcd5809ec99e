/**
 * The JupyterLab extensions gradbook's front ends are made of, one module per package, imported
 * statically so that one bundle holds them (no module federation). JupyterLab (`index.ts`), the
 * JupyterLite site and the class hub's JupyterLab import these lists and add or remove entries.
 */
import type { JupyterFrontEndPlugin } from "@jupyterlab/application";
import type { IRenderMime } from "@jupyterlab/rendermime-interfaces";

import * as applicationExtension from "@jupyterlab/application-extension";
import * as apputilsExtension from "@jupyterlab/apputils-extension";
import * as cellToolbarExtension from "@jupyterlab/cell-toolbar-extension";
import * as celltagsExtension from "@jupyterlab/celltags-extension";
import * as codemirrorExtension from "@jupyterlab/codemirror-extension";
import * as completerExtension from "@jupyterlab/completer-extension";
import * as consoleExtension from "@jupyterlab/console-extension";
import * as csvviewerExtension from "@jupyterlab/csvviewer-extension";
import * as docmanagerExtension from "@jupyterlab/docmanager-extension";
import * as documentsearchExtension from "@jupyterlab/documentsearch-extension";
import * as filebrowserExtension from "@jupyterlab/filebrowser-extension";
import * as fileeditorExtension from "@jupyterlab/fileeditor-extension";
import * as helpExtension from "@jupyterlab/help-extension";
import * as htmlviewerExtension from "@jupyterlab/htmlviewer-extension";
import * as hubExtension from "@jupyterlab/hub-extension";
import * as imageviewerExtension from "@jupyterlab/imageviewer-extension";
import * as inspectorExtension from "@jupyterlab/inspector-extension";
import * as launcherExtension from "@jupyterlab/launcher-extension";
import * as logconsoleExtension from "@jupyterlab/logconsole-extension";
import * as mainmenuExtension from "@jupyterlab/mainmenu-extension";
import * as markdownviewerExtension from "@jupyterlab/markdownviewer-extension";
import * as markedparserExtension from "@jupyterlab/markedparser-extension";
import * as mathjaxExtension from "@jupyterlab/mathjax-extension";
import * as metadataformExtension from "@jupyterlab/metadataform-extension";
import * as notebookExtension from "@jupyterlab/notebook-extension";
import * as rendermimeExtension from "@jupyterlab/rendermime-extension";
import * as runningExtension from "@jupyterlab/running-extension";
import * as settingeditorExtension from "@jupyterlab/settingeditor-extension";
import * as shortcutsExtension from "@jupyterlab/shortcuts-extension";
import * as statusbarExtension from "@jupyterlab/statusbar-extension";
import * as terminalExtension from "@jupyterlab/terminal-extension";
import * as themeDarkExtension from "@jupyterlab/theme-dark-extension";
import * as themeDarkHighContrastExtension from "@jupyterlab/theme-dark-high-contrast-extension";
import * as themeLightExtension from "@jupyterlab/theme-light-extension";
import * as tocExtension from "@jupyterlab/toc-extension";
import * as tooltipExtension from "@jupyterlab/tooltip-extension";
import * as translationExtension from "@jupyterlab/translation-extension";
import * as uiComponentsExtension from "@jupyterlab/ui-components-extension";
import * as widgetManagerExtension from "@jupyter-widgets/jupyterlab-manager";

import * as javascriptExtension from "@jupyterlab/javascript-extension";
import * as jsonExtension from "@jupyterlab/json-extension";
import * as pdfExtension from "@jupyterlab/pdf-extension";

import plotlyExtension from "./plotly";
import * as assignmentsExtension from "./assignments";

/** A package's module: its default export is one plugin or a list of them. */
export type PluginModule = { default: JupyterFrontEndPlugin<any> | JupyterFrontEndPlugin<any>[] };
export type MimeModule = { default: IRenderMime.IExtension | IRenderMime.IExtension[] };

/**
 * JupyterLab's own extensions (each package's name → its module). Left out on purpose:
 * the extension manager and the plugin manager (they call the Python `jupyterlab` package's
 * APIs, which Debian lacks), the language-server client (no jupyter-lsp), the debugger (the
 * gradbook kernel has no debug protocol), Vega and Mermaid-only packages (size).
 */
export const labExtensions: Record<string, PluginModule> = {
  "@jupyterlab/application-extension": applicationExtension,
  "@jupyterlab/apputils-extension": apputilsExtension,
  "@jupyterlab/cell-toolbar-extension": cellToolbarExtension,
  "@jupyterlab/celltags-extension": celltagsExtension,
  "@jupyterlab/codemirror-extension": codemirrorExtension,
  "@jupyterlab/completer-extension": completerExtension,
  "@jupyterlab/console-extension": consoleExtension,
  "@jupyterlab/csvviewer-extension": csvviewerExtension,
  "@jupyterlab/docmanager-extension": docmanagerExtension,
  "@jupyterlab/documentsearch-extension": documentsearchExtension,
  "@jupyterlab/filebrowser-extension": filebrowserExtension,
  "@jupyterlab/fileeditor-extension": fileeditorExtension,
  "@jupyterlab/help-extension": helpExtension,
  "@jupyterlab/htmlviewer-extension": htmlviewerExtension,
  "@jupyterlab/hub-extension": hubExtension,
  "@jupyterlab/imageviewer-extension": imageviewerExtension,
  "@jupyterlab/inspector-extension": inspectorExtension,
  "@jupyterlab/launcher-extension": launcherExtension,
  "@jupyterlab/logconsole-extension": logconsoleExtension,
  "@jupyterlab/mainmenu-extension": mainmenuExtension,
  "@jupyterlab/markdownviewer-extension": markdownviewerExtension,
  "@jupyterlab/markedparser-extension": markedparserExtension,
  "@jupyterlab/mathjax-extension": mathjaxExtension,
  "@jupyterlab/metadataform-extension": metadataformExtension,
  "@jupyterlab/notebook-extension": notebookExtension,
  "@jupyterlab/rendermime-extension": rendermimeExtension,
  "@jupyterlab/running-extension": runningExtension,
  "@jupyterlab/settingeditor-extension": settingeditorExtension,
  "@jupyterlab/shortcuts-extension": shortcutsExtension,
  "@jupyterlab/statusbar-extension": statusbarExtension,
  "@jupyterlab/terminal-extension": terminalExtension,
  "@jupyterlab/theme-dark-extension": themeDarkExtension,
  "@jupyterlab/theme-dark-high-contrast-extension": themeDarkHighContrastExtension,
  "@jupyterlab/theme-light-extension": themeLightExtension,
  "@jupyterlab/toc-extension": tocExtension,
  "@jupyterlab/tooltip-extension": tooltipExtension,
  "@jupyterlab/translation-extension": translationExtension,
  "@jupyterlab/ui-components-extension": uiComponentsExtension,
};

/** gradbook's own: the Assignments panel (shown only on a course hub's servers). */
export const gradbookExtensions: Record<string, PluginModule> = {
  "@gradbook/assignments": assignmentsExtension,
};

/** Jupyter widgets (ipywidgets 8's manager: protocol 2.1.0, controls 2.0.0, output 1.0.0). */
export const widgetExtensions: Record<string, PluginModule> = {
  "@jupyter-widgets/jupyterlab-manager": widgetManagerExtension as unknown as PluginModule,
};

/** MIME renderers: JupyterLab's and gradbook's Plotly renderer (plotly.js bundled, no CDN). */
export const mimeExtensions: Record<string, MimeModule> = {
  "@jupyterlab/javascript-extension": javascriptExtension,
  "@jupyterlab/json-extension": jsonExtension,
  "@jupyterlab/pdf-extension": pdfExtension,
  "@gradbook/plotly": { default: plotlyExtension },
};

/**
 * Plugins left out of the packages above: the news and update-check pop-up (it asks the
 * internet), the language-server bridges (no jupyter-lsp on Debian's server).
 */
export const disabledPlugins: string[] = [
  "@jupyterlab/apputils-extension:announcements",
  "@jupyterlab/fileeditor-extension:language-server",
  "@jupyterlab/notebook-extension:language-server",
];

/** Every plugin of the given modules, less the disabled ones. */
export function pluginsOf<T extends { id: string }>(modules: Record<string, { default: T | T[] }>, disabled: string[] = disabledPlugins): T[] {
  const out: T[] = [];
  for (const mod of Object.values(modules)) {
    const exported = mod.default;
    for (const p of Array.isArray(exported) ? exported : [exported]) if (!disabled.includes(p.id)) out.push(p);
  }
  return out;
}
