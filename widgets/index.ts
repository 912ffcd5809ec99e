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
 * A value is displayed when it is a cell's last expression, or with `await display(value)`.
 * Every display object has `toMimeBundle()` (some async: tensors are read then).
 */
import * as plotNs from "./plotly.js";

export { setDisplayHost, getDisplayHost, type DisplayHost, type DisplayOptions, type MimeBundle, type Comm } from "./host.js";
export { display, html, DisplayHandle, RawBundle, setPrintFallback } from "./display.js";
export { bundleOf, type ArrayInput, type Displayable } from "./util.js";

export {
  Figure,
  PLOTLY_MIME,
  setPlotlySource,
  loadPlotlySource,
  resetPlotlyEmbedding,
  plotlyEmbedded,
  type Trace,
  type Layout,
  type FigureSpec,
} from "./plotly.js";

/** Plotly chart builders: line, scatter, heatmap, contour, surface, bar, histogram, image. */
export const plot = {
  line: plotNs.line,
  scatter: plotNs.scatter,
  heatmap: plotNs.heatmap,
  contour: plotNs.contour,
  surface: plotNs.surface,
  bar: plotNs.bar,
  histogram: plotNs.histogram,
  image: plotNs.image,
  Figure: plotNs.Figure,
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
export {
  Widget,
  IntSlider,
  FloatSlider,
  FloatLogSlider,
  Dropdown,
  Checkbox,
  Button,
  IntProgress,
  FloatProgress,
  Label,
  HTML,
  HBox,
  VBox,
  Output,
  Interactive,
  interact,
  widgetRegistry,
  setWidgetErrorReporter,
  WIDGET_VIEW_MIME,
  WIDGET_PROTOCOL_VERSION,
  type Change,
  type InteractSpec,
} from "./controls.js";
