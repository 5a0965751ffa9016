// Compute witnesses with the calculator that circom generated for a circuit.
// Usage: node witness.js <circuit>_js/witness_calculator.js <circuit>.wasm < inputs.json
// stdin holds a JSON list of input objects; stdout gets a JSON list with, for each
// input, either {"witness": [decimal strings]} or {"error": message}.
"use strict";
const fs = require("fs");

async function main() {
    const builder = require(process.argv[2]);
    const wasm = fs.readFileSync(process.argv[3]);
    let calculator = await builder(wasm);
    const inputs = JSON.parse(fs.readFileSync(0, "utf8"));
    const results = [];
    for (const input of inputs) {
        try {
            const witness = await calculator.calculateWitness(input, true);
            results.push({ witness: witness.map((value) => value.toString()) });
        } catch (err) {
            results.push({ error: String(err && err.message ? err.message : err) });
            // A failed assertion aborts the wasm instance mid-run: start a fresh one.
            calculator = await builder(wasm);
        }
    }
    process.stdout.write(JSON.stringify(results));
}

main().catch((err) => {
    process.stderr.write(String(err && err.stack ? err.stack : err) + "\n");
    process.exit(1);
});
