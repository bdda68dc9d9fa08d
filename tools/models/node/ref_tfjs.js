// Build-time reference: run a tfjs graph model with the pure-JS CPU backend.
// usage: node ref_tfjs.js MODEL.json INPUT.f32 D0,D1,D2,D3 OUT.json
'use strict';
const fs = require('fs');
const path = require('path');
const tf = require('@tensorflow/tfjs-core');
require('@tensorflow/tfjs-backend-cpu');
const converter = require('@tensorflow/tfjs-converter');

function readFloats(file) {
  const raw = fs.readFileSync(file);
  return new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
}

async function main() {
  const [modelJson, inputFile, dims, outFile] = process.argv.slice(2);
  await tf.setBackend('cpu');
  const model = JSON.parse(fs.readFileSync(modelJson));
  const dir = path.dirname(modelJson);
  const specs = [];
  const buffers = [];
  for (const group of model.weightsManifest) {
    specs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(buffers);
  const artifacts = {
    modelTopology: model.modelTopology,
    weightSpecs: specs,
    weightData: all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength),
    format: model.format,
    generatedBy: model.generatedBy,
    convertedBy: model.convertedBy,
    signature: model.signature,
    userDefinedMetadata: model.userDefinedMetadata,
  };
  const graph = await converter.loadGraphModel({ load: async () => artifacts });
  const x = tf.tensor(readFloats(inputFile), dims.split(',').map(Number));
  let outs = await graph.executeAsync(x);
  if (!Array.isArray(outs)) outs = [outs];
  const result = { runtime: `tfjs-core ${tf.version_core} (cpu backend)`, outputs: {} };
  graph.outputs.forEach((o, i) => {
    result.outputs[o.name] = { shape: outs[i].shape, data: Array.from(outs[i].dataSync()) };
  });
  fs.writeFileSync(outFile, JSON.stringify(result));
}

main().catch((e) => { console.error(e); process.exit(1); });
