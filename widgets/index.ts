/**
 * gradbook/widgets: displays for the course — Plotly figures, image grids, a live training
 * view, teaching diagrams, and Jupyter widgets controls. Everything here renders in
 * JupyterLab, the classic notebook, VS Code and exported HTML, offline.
 *
 *   import { plot, imageGrid, trainingView, decisionBoundary, interact, IntSlider } from "gradbook/widgets";
 *
 *   plot.line({ train: losses }, { title: "Loss", xlabel: "step" })     // Plotly figure
 *   imageGrid(images.slice(0, 0, 16), { nrow: 8 })                     // PNG
 *   decisionBoundary(model, X, y)                                      // regions + points
 *   activations(["sigmoid", "tanh", "relu"])                           // f and f′ (autograd)
 *   confusionMatrix(logits, labels, { classNames })
 *   convArithmetic({ input: 5, kernel: 3, stride: 2, padding: 1 })     // animated, with the formula
 *   convExplorer()                                                     // the same with sliders
 *   mlpDiagram([2, 4, 1]) / mlpDiagram(model)
 *   drawGraph(loss)                                                    // micrograd's draw_dot
 *   modelSummary(model, [1, 28, 28])
 *   const view = trainingView({ epochs, batchesPerEpoch }); view.update({...}); await view.close();
 *   interact(({ stride }) => convArithmetic({ input: 7, kernel: 3, stride }), { stride: [1, 3] })
 *
 * A value is displayed when it is a cell's last expression, or with `display(value)`.
 * Every display object has `toMimeBundle()` (some async: tensors are read then).
 */
import * as charts from "./charts.js";
import { Figure } from "./plotly.js";

export { setDisplayHost, getDisplayHost, type DisplayHost, type OutputOptions, type MimeBundle, type Comm } from "./host.js";
export {
  display,
  html,
  bundleOf,
  defaultText,
  Bundle,
  DisplayHandle,
  OutputQueue,
  setPrintFallback,
  type Display,
  type DisplayOptions,
  type Displayable,
  type TextFormatter,
} from "./display.js";
export { type ArrayInput } from "./util.js";

export {
  Figure,
  PLOTLY_MIME,
  setPlotlySource,
  loadPlotlySource,
  resetPlotlyEmbedding,
  plotlyEmbedded,
  PlotlyEmbedding,
  type Trace,
  type Layout,
  type FigureSpec,
} from "./plotly.js";

/** Plotly chart builders: line, scatter, heatmap, contour, surface, bar, histogram, image. */
export const plot = {
  line: charts.line,
  scatter: charts.scatter,
  heatmap: charts.heatmap,
  contour: charts.contour,
  surface: charts.surface,
  bar: charts.bar,
  histogram: charts.histogram,
  image: charts.image,
  Figure,
};

export { encodePng, encodePngSync, pngDataUri, colormapLut, type ColormapName, type PngImage } from "./png.js";
export { imageGrid, ImageGrid, gridPixels, type ImageGridOptions } from "./images.js";
export { trainingView, TrainingView, type TrainingViewOptions, type TrainingUpdate } from "./training.js";
export {
  decisionBoundary,
  boundaryGrid,
  activations,
  activationCurves,
  builtinActivations,
  confusionMatrix,
  confusionCounts,
  ConfusionMatrix,
  type Classifier,
  type DecisionBoundaryOptions,
} from "./teaching.js";
export {
  convArithmetic,
  convArithmeticGallery,
  convExplorer,
  convGeometry,
  convOutputSize,
  ConvArithmeticView,
  ConvGallery,
  CONV_GUIDE_CASES,
  type ConvParams,
  type ConvViewOptions,
} from "./conv.js";
export { mlpDiagram, MlpDiagram, drawGraph, GraphDrawing, modelSummary, ParameterTable } from "./diagrams.js";
export { Widget, widgetRegistry, setWidgetErrorReporter, WIDGET_VIEW_MIME, WIDGET_PROTOCOL_VERSION, type Change } from "./protocol.js";
export { IntSlider, FloatSlider, FloatLogSlider, Dropdown, Checkbox, Button, IntProgress, FloatProgress, Label, HTML, HBox, VBox } from "./controls.js";
export { Output, type OutputItem } from "./output.js";
export { Interactive, interact, type InteractSpec } from "./interact.js";
