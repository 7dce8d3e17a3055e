// One lane of the bare in-page loop (bare-page.html): loads its share of
// the (module, plans) pairs, then on each "go" compiles them all
// (bare-compile.mjs) and answers "done".
import { compileAll, decodeCase } from "./bare-compile.mjs";

let cases;
let inFlight;
self.onmessage = async ({ data }) => {
  if (data !== "go") {
    inFlight = data.inFlight;
    cases = (await (await fetch(data.shard)).json()).map(decodeCase);
    postMessage("ready");
    return;
  }
  await compileAll(cases, inFlight);
  postMessage("done");
};
