import { parseFhirResource } from './validate.js'
import { fhirDefinitionsLoadMs } from './definitions.js'
const rss0 = process.memoryUsage().rss
const t0 = performance.now()
parseFhirResource('{"resourceType":"Patient"}')
const t1 = performance.now()
for (let i = 0; i < 200; i++) parseFhirResource('{"resourceType":"Observation","status":"final","code":{"text":"x"},"valueQuantity":{"value":1,"unit":"mg"}}')
const t2 = performance.now()
console.log(JSON.stringify({ loadMs: Math.round(fhirDefinitionsLoadMs()!), firstCallMs: Math.round(t1 - t0), perValidationMs: ((t2 - t1) / 200).toFixed(2), rssDeltaMB: Math.round((process.memoryUsage().rss - rss0) / 1e6) }))
