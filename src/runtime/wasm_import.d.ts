/**
 * workerd and wrangler import `.wasm` files as compiled WebAssembly modules
 * (`wasm_workerd.ts` imports resvg's).
 */
declare module "*.wasm" {
  const module: WebAssembly.Module;
  export default module;
}
