// Build-time reference: run a face-api.js 0.22.2 net (its own tfjs-core, CPU) on raw input.
// usage: node ref_faceapi.js NET MANIFEST.json INPUT.f32 D0,D1,D2,D3 OUT.json
//   NET: face_recognition_model | age_gender_model | face_expression_model
'use strict';
const fs = require('fs');
const path = require('path');
const faceapi = require('face-api.js');
const tf = faceapi.tf;

const NETS = {
  face_recognition_model: () => new faceapi.FaceRecognitionNet(),
  age_gender_model: () => new faceapi.AgeGenderNet(),
  face_expression_model: () => new faceapi.FaceExpressionNet(),
};

async function main() {
  const [netName, manifestFile, inputFile, dims, outFile] = process.argv.slice(2);
  const manifest = JSON.parse(fs.readFileSync(manifestFile));
  const dir = path.dirname(manifestFile);
  const specs = [];
  const buffers = [];
  for (const group of manifest) {
    specs.push(...group.weights);
    for (const p of group.paths) buffers.push(fs.readFileSync(path.join(dir, p)));
  }
  const all = Buffer.concat(buffers);
  const weightMap = tf.io.decodeWeights(
    all.buffer.slice(all.byteOffset, all.byteOffset + all.byteLength), specs);
  const net = NETS[netName]();
  net.loadFromWeightMap(weightMap);
  const raw = fs.readFileSync(inputFile);
  const data = new Float32Array(raw.buffer.slice(raw.byteOffset, raw.byteOffset + raw.byteLength));
  const x = tf.tensor4d(data, dims.split(',').map(Number));
  const input = await faceapi.toNetInput(x);
  const out = net.forwardInput(input);
  const named = out instanceof tf.Tensor ? { [netName]: out } : out;
  const result = { runtime: `face-api.js 0.22.2 (tfjs-core ${tf.version_core}, cpu)`, outputs: {} };
  for (const [name, t] of Object.entries(named)) {
    result.outputs[name] = { shape: t.shape, data: Array.from(t.dataSync()) };
  }
  fs.writeFileSync(outFile, JSON.stringify(result));
}

main().catch((e) => { console.error(e); process.exit(1); });
