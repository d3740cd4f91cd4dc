// The demonstration page: every picture and number comes from the imgconv server.
"use strict";

const $ = (id) => document.getElementById(id);

// The address imgconv printed has the page's token, which the server has now put in a
// cookie: out of the address bar and the history with it.
if (location.search) history.replaceState(null, "", "/");

// What a refused request says: the server answers with one line of plain text.
async function failure(response) {
  const text = (await response.text()).trim();
  return text || `${response.status} ${response.statusText}`;
}

// ---- 1. Gaussian blur ------------------------------------------------------------
// At most one picture is requested at a time; moves made meanwhile only change what
// is wanted, and the latest is requested when the picture in flight has come. So a
// burst of moves costs two pictures, never a queue of stale ones.
const blur = {
  wanted: "", requested: "", inFlight: false, imageId: null, imageName: "",
  lastInput: 0, requests: 0, latencies: [],
};
window.imgconvDemo = blur;  // for scripts and the tests: latencies (ms), requests

function blurQuery() {
  const query = new URLSearchParams({
    radius: $("radius").value, deviation: $("deviation").value, view: $("view").value, boundary: $("boundary").value,
  });
  if (blur.imageId) query.set("image", blur.imageId);
  return query.toString();
}

function showBlurSettings() {
  $("radius-value").textContent = $("radius").value;
  $("deviation-value").textContent = $("deviation").value;
  $("blur-command").textContent = `imgconv blur -r ${$("radius").value} -s ${$("deviation").value} ` +
    `--view ${$("view").value} -b ${$("boundary").value} ${blur.imageName || "IMAGE"} out.png`;
}

function blurChanged() {
  blur.lastInput = performance.now();
  showBlurSettings();
  blur.wanted = blurQuery();
  requestPicture();
  updateKernel();
  restoreChanged();  // the same picture, blurred with the same Gaussian, is undone below
}

function requestPicture() {
  if (blur.inFlight || blur.wanted === blur.requested) return;
  blur.inFlight = true;
  blur.requested = blur.wanted;
  blur.requests += 1;
  $("result").src = "/blur.png?" + blur.requested;
}

$("result").addEventListener("load", () => {
  blur.inFlight = false;
  $("blur-error").textContent = "";
  if (blur.requested === blur.wanted) {
    const latency = performance.now() - blur.lastInput;
    blur.latencies.push(latency);
    $("result").dataset.latency = latency.toFixed(1);
    $("result").dataset.shown = blur.requested;
  }
  requestPicture();
  requestRestoration();
});

$("result").addEventListener("error", async () => {
  const failed = blur.requested;
  blur.inFlight = false;
  try {
    const response = await fetch("/blur.png?" + failed);
    $("blur-error").textContent = response.ok ? "the picture could not be shown" : await failure(response);
  } catch (error) {
    $("blur-error").textContent = "the imgconv server does not answer: is it still running?";
  }
  if (failed === blur.wanted) $("result").dataset.shown = "";
  requestPicture();
  requestRestoration();
});

for (const id of ["radius", "deviation"]) $(id).addEventListener("input", blurChanged);
for (const id of ["view", "boundary"]) $(id).addEventListener("change", blurChanged);

// The kernel as a heat map, with its weights written in when the cells are large enough.
let kernelAbort = null;
async function updateKernel() {
  if (kernelAbort) kernelAbort.abort();
  kernelAbort = new AbortController();
  const query = new URLSearchParams({radius: $("radius").value, deviation: $("deviation").value});
  let kernel;
  try {
    const response = await fetch("/kernel.json?" + query, {signal: kernelAbort.signal});
    if (!response.ok) return;  // the picture's request reports the same refusal
    kernel = await response.json();
  } catch (error) {
    return;  // superseded, or the server is gone (the picture says so)
  }
  drawKernel(kernel);
}

const SVG = "http://www.w3.org/2000/svg";
const KERNEL_SIDE = 240;
const NUMBERS_FROM = 26;  // cell size (px) from which a weight's digits fit in it

function drawKernel(kernel) {
  const svg = $("kernel"), weights = kernel.weights, n = weights.length;
  const cell = KERNEL_SIDE / n, peak = Math.max(...weights.flat());
  const parts = [];
  weights.forEach((row, r) => row.forEach((w, c) => {
    const level = w / peak;  // 0 white to 1 deep blue
    const fill = `rgb(${Math.round(255 - 222 * level)}, ${Math.round(255 - 153 * level)}, ${Math.round(255 - 75 * level)})`;
    parts.push(`<rect x="${c * cell}" y="${r * cell}" width="${cell}" height="${cell}" fill="${fill}"><title>${w}</title></rect>`);
    if (cell >= NUMBERS_FROM) {
      const colour = level > 0.55 ? "#fff" : "#000";
      parts.push(`<text x="${(c + 0.5) * cell}" y="${(r + 0.5) * cell}" fill="${colour}">${w.toFixed(3)}</text>`);
    }
  }));
  svg.innerHTML = parts.join("");
  svg.dataset.size = n;
  const sum = weights.flat().reduce((a, b) => a + b, 0);
  $("kernel-caption").textContent = `kernel ${n}x${n}, σ = ${kernel.deviation}, weights sum to ${sum.toFixed(6)}`;
}

// Uploads: the picture is sent as it is; the server keeps it in memory and names it.
function useImage(info, name) {
  blur.imageId = info.id;
  blur.imageName = name;
  $("image-name").textContent = `${name}: ${info.width}x${info.height}, ${info.description}`;
  $("image-sample").disabled = !info.id;
  blurChanged();
}

$("image-file").addEventListener("change", async () => {
  const file = $("image-file").files[0];
  if (!file) return;
  $("blur-error").textContent = "";
  try {
    const response = await fetch("/image", {method: "POST", body: file});
    if (!response.ok) {
      $("blur-error").textContent = await failure(response);
      return;
    }
    useImage(await response.json(), file.name);
  } catch (error) {
    $("blur-error").textContent = "the picture could not be sent: " + error.message;
  }
});

async function useSample() {
  const response = await fetch("/image");
  if (response.ok) {
    const info = await response.json();
    useImage(info, info.name);
  }
}
$("image-sample").addEventListener("click", () => {
  $("image-file").value = "";
  useSample();
});

// ---- 2. Undoing the blur ---------------------------------------------------------
// As for the blur: one request in flight, the latest settings asked for when it is
// answered. Each answer has the three pictures (data: addresses) and the two PSNRs.
const restore = {wanted: "", requested: "", inFlight: false, lastInput: 0, requests: 0, latencies: []};
window.imgconvRestore = restore;  // for scripts and the tests, as imgconvDemo

function restoreQuery() {
  const query = new URLSearchParams({
    radius: $("radius").value, deviation: $("deviation").value, boundary: $("boundary").value,
    method: $("restore-method").value, iterations: $("iterations").value, balance: $("balance").value,
    noise: $("noise").value,
  });
  if (blur.imageId) query.set("image", blur.imageId);
  return query.toString();
}

function showRestoreSettings() {
  const wiener = $("restore-method").value === "wiener";
  $("iterations").disabled = wiener;
  $("balance").disabled = !wiener;
  $("iterations-value").textContent = $("iterations").value;
  $("noise-value").textContent = $("noise").value;
  const radius = $("radius").value, deviation = $("deviation").value, boundary = $("boundary").value;
  // A radius of 0 is the identity, a 1x1 kernel: gaussian:... takes a radius > 0.
  const kernel = radius === "0" ? "1" : `gaussian:s=${deviation},r=${radius}`;
  const how = wiener ? `--algorithm wiener --balance ${$("balance").value}` : `--iterations ${$("iterations").value}`;
  $("restore-command").textContent = `imgconv blur -r ${radius} -s ${deviation} -b ${boundary} ` +
    `${blur.imageName || "IMAGE"} blurred.png\nimgconv deconvolve -k ${kernel} ${how} -b ${boundary} ` +
    "blurred.png restored.png";
}

function restoreChanged() {
  restore.lastInput = performance.now();
  showRestoreSettings();
  restore.wanted = restoreQuery();
  requestRestoration();
}

// After the blur's picture: a restoration takes up to ten times as long, and the blur's
// slider is the one moved most.
async function requestRestoration() {
  if (restore.inFlight || blur.inFlight || restore.wanted === restore.requested) return;
  restore.inFlight = true;
  const asked = restore.requested = restore.wanted;
  restore.requests += 1;
  let shown = null, error = "";
  try {
    const response = await fetch("/restore.json?" + asked);
    if (response.ok) shown = await response.json();
    else error = await failure(response);
  } catch (failed) {
    error = "the imgconv server does not answer: is it still running?";
  }
  restore.inFlight = false;
  showRestoration(shown, error, asked);
  requestRestoration();
}

function decibels(value) {
  return value === null ? "∞ (equal to the original)" : `${value.toFixed(2)} dB`;
}

function showRestoration(shown, error, asked) {
  $("restore-error").textContent = error;
  for (const name of ["original", "blurred", "restored"]) {
    if (shown) $("restore-" + name).src = shown[name];
    else $("restore-" + name).removeAttribute("src");
  }
  $("psnr-blurred").textContent = shown ? decibels(shown.psnr.blurred) : "";
  $("psnr-restored").textContent = shown ? decibels(shown.psnr.restored) : "";
  const {blurred, restored} = shown ? shown.psnr : {};
  const gain = restored - blurred;
  $("psnr-gain").textContent = shown && blurred !== null && restored !== null ?
    `${gain < 0 ? "−" : "+"}${Math.abs(gain).toFixed(2)} dB` : "";
  $("restore-note").textContent = !shown ? "" :
    (shown.frames > 1 ? `Only the first of the ${shown.frames} frames is restored. ` : "") +
    (shown.width < shown.of[0] || shown.height < shown.of[1] ?
      `Only the centre ${shown.width}x${shown.height} of the ${shown.of[0]}x${shown.of[1]} picture is blurred and ` +
      "restored, as if it were the whole picture. " : "") +
    (Number($("noise").value) > 0 ?
      `Noise of σ ${$("noise").value} levels (of 255), from a fixed seed, is added to blurred.png before it is ` +
      "restored; the commands shown add none." : "");
  $("restore-restored").dataset.shown = shown ? asked : "";
  if (shown && asked === restore.wanted) restore.latencies.push(performance.now() - restore.lastInput);
}

for (const id of ["iterations", "noise"]) $(id).addEventListener("input", restoreChanged);
for (const id of ["restore-method", "balance"]) $(id).addEventListener("change", restoreChanged);

// ---- 3. The sliding kernel -------------------------------------------------------
// Each step is a frame of `imgconv animate --numbers`, drawn by the server; data-step
// on the canvas is the step it shows.
const conv = {info: null, query: "", step: 0, moving: true, frames: new Map(), drawing: false, abort: null};
const STEP_MS = 600;  // the lecture's pace: under a second a step

function convQuery() {
  return new URLSearchParams({
    input: $("conv-input-size").value, kernel: $("conv-kernel-size").value, stride: $("conv-stride").value,
    padding: $("conv-padding").value, dilation: $("conv-dilation").value,
  }).toString();
}

function frame(step) {
  const key = `${conv.query}&step=${step}`;
  if (!conv.frames.has(key)) {
    const image = new Image();
    image.src = "/conv.png?" + key;
    conv.frames.set(key, image);
  }
  return conv.frames.get(key);
}

async function showStep(step) {
  if (!conv.info) return;
  conv.drawing = true;
  const image = frame(step), query = conv.query;
  try {
    await image.decode();
  } catch (error) {
    conv.drawing = false;
    return;  // a superseded setting's frame, or the server is gone
  }
  conv.drawing = false;
  if (query !== conv.query) return;
  const canvas = $("conv-animation");
  if (canvas.width !== image.naturalWidth || canvas.height !== image.naturalHeight) {
    canvas.width = image.naturalWidth;
    canvas.height = image.naturalHeight;
  }
  canvas.style.width = `${2 * image.naturalWidth}px`;  // twice its size: readable numbers
  canvas.getContext("2d").drawImage(image, 0, 0);
  conv.step = step;
  canvas.dataset.step = step;
  if (conv.info.steps > 1) frame((step + 1) % conv.info.steps);  // fetched ahead
}

function advance() {
  if (conv.info && !conv.drawing) showStep((conv.step + 1) % conv.info.steps);
}

async function convChanged() {
  if (conv.abort) conv.abort.abort();
  conv.abort = new AbortController();
  const query = convQuery();
  let response;
  try {
    response = await fetch("/conv.json?" + query, {signal: conv.abort.signal});
  } catch (error) {
    return;
  }
  if (!response.ok) {
    $("conv-error").textContent = await failure(response);
    $("conv-output-size").textContent = "none";
    $("conv-formula").textContent = "";
    return;
  }
  const info = await response.json();
  $("conv-error").textContent = "";
  $("conv-output-size").textContent = `${info.output[0]}x${info.output[1]}`;
  $("conv-formula").textContent = info.formula;
  conv.info = info;
  conv.query = query;
  conv.frames.clear();
  showStep(0);
}

for (const id of ["conv-input-size", "conv-kernel-size", "conv-stride", "conv-padding", "conv-dilation"]) {
  $(id).addEventListener("input", convChanged);
}
$("toggle-movement").addEventListener("click", () => {
  conv.moving = !conv.moving;
  $("toggle-movement").setAttribute("aria-pressed", conv.moving);
  $("toggle-movement").textContent = conv.moving ? "stop movement" : "start movement";
});
$("conv-next").addEventListener("click", advance);
setInterval(() => { if (conv.moving) advance(); }, STEP_MS);

// ---- 4. Parameter counts ---------------------------------------------------------
let paramsAbort = null;
const PARAMS_IDS = {
  "fully connected": "params-fc", "locally connected": "params-lc", "convolutional": "params-conv",
};
const RATIO_IDS = {
  "fully connected / locally connected": "params-ratio-fc-lc",
  "locally connected / convolutional": "params-ratio-lc-conv",
  "fully connected / convolutional": "params-ratio-fc-conv",
};

async function paramsChanged() {
  if (paramsAbort) paramsAbort.abort();
  paramsAbort = new AbortController();
  const query = new URLSearchParams({
    input: $("params-input").value.trim(), hidden: $("params-hidden").value, filter: $("params-filter").value.trim(),
    filters: $("params-filters").value, channels: $("params-channels").value, bias: $("params-bias").checked ? 1 : 0,
  });
  let response;
  try {
    response = await fetch("/params.json?" + query, {signal: paramsAbort.signal});
  } catch (error) {
    return;
  }
  const shown = response.ok ? await response.json() : null;
  $("params-error").textContent = shown ? "" : await failure(response);
  for (const [layer, id] of Object.entries(PARAMS_IDS)) {
    $(id).textContent = shown ? shown.counts[layer] : "";
    $(id + "-power").textContent = shown ? shown.powers[layer] : "";
  }
  for (const [ratio, id] of Object.entries(RATIO_IDS)) {
    $(id).textContent = shown ? shown.ratios[ratio] : "";
    $(id + "-power").textContent = shown ? shown.ratio_powers[ratio] : "";
  }
}

for (const id of ["params-input", "params-hidden", "params-filter", "params-filters", "params-channels", "params-bias"]) {
  $(id).addEventListener("input", paramsChanged);
}
for (const form of document.forms) form.addEventListener("submit", (event) => event.preventDefault());

useSample();
convChanged();
paramsChanged();
