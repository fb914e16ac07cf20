// Module hooks for the contract coverage run (registered by register.mjs in every test process):
// the contract artifacts resolve to the instrumented build, and src/chain/anvil to the wrapper
// that starts anvil with step tracing behind the tracing proxy.
let artifactsUrl
let contractsIndexUrl
let anvilUrl
let wrapperUrl

export async function initialize(data) {
  artifactsUrl = data.artifactsUrl
  contractsIndexUrl = data.contractsIndexUrl
  anvilUrl = data.anvilUrl
  wrapperUrl = data.wrapperUrl
}

export async function resolve(specifier, context, nextResolve) {
  if (specifier === './artifacts/index.js' && context.parentURL?.split('?')[0] === contractsIndexUrl) {
    return nextResolve(artifactsUrl, context)
  }
  const resolved = await nextResolve(specifier, context)
  if (resolved.url === anvilUrl && context.parentURL !== wrapperUrl) return { ...resolved, url: wrapperUrl }
  return resolved
}
