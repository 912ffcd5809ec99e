/**
 * gb.data: datasets, the DataLoader, random splits, toy 2-D datasets and the IDX
 * file reader. (Real image sets — MNIST, Fashion-MNIST — are in gb.datasets.)
 */
export { Dataset, TensorDataset, Subset, ConcatDataset, randomSplit, type DatasetLike } from "./dataset.js";
export { DataLoader, defaultCollate, type DataLoaderOptions } from "./dataloader.js";
export { xor, blobs, moons, spirals, circles, type ToyData, type XorOptions, type BlobsOptions, type MoonsOptions, type SpiralsOptions, type CirclesOptions } from "./toy.js";
export { parseIdx, parseIdxRaw, readIdx, idxToTensor, isGzip, gunzip, type IdxData, type IdxType, type IdxArray } from "./idx.js";
export * as transforms from "./transforms.js";
