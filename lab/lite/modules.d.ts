/** Images imported by the bundle: their URL (rspack's asset modules). */
declare module "*.png" {
  const url: string;
  export default url;
}
