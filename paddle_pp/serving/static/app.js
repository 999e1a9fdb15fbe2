// The web page of paddle-pp serve: upload a file (an image, a PDF, a TIFF) to /ocr, draw each page's boxes over
// its image, list the text, page through a document. Plain JavaScript, served by the app itself (no CDN: it works
// offline). The page images come from the server (include_image=true), so the boxes always match what was OCR'd
// (EXIF rotation, PDF pages rendered at the server's pdf_dpi). "word boxes" asks for return_word_box and draws
// each word's box thin inside its line's. "small text" asks the detector to keep the image's size (docs/inference.md,
// "Small text": the resize that reads small print and distant signs, at about twice the detector's time). "turn
// pages" asks for use_doc_orientation_classify: a page scanned sideways or upside down is read upright, its boxes
// still drawn on the page as it was sent. "columns" asks for reading_order=columns: text set in columns is listed
// column by column. "light text" asks for PaddleOCR's image options alphacolor=0,0,0 and
// invert=true: transparency goes over black and the page is inverted before it is read, so white text on a dark
// or transparent ground reads as dark on white; the page is still drawn as it was sent. "as PaddleOCR" asks for
// as_paddleocr=true: PaddleOCR's own results with these models (docs/inference.md, "Coming from PaddleOCR"), to see
// what the defaults add; the other options still apply.
"use strict";
(function () {
  const $ = (id) => document.getElementById(id);
  const state = { result: null, page: 0, fileName: "result", file: null };
  const SVG = "http://www.w3.org/2000/svg";
  const SMALL_TEXT = "det_limit_type=min&det_limit_side_len=736";   // never shrink; grow a short side under 736 px
  const LIGHT_TEXT = "alphacolor=0,0,0&invert=true";

  function setStatus(text, isError) {
    $("status").textContent = text;
    $("status").classList.toggle("error", !!isError);
  }

  async function upload(file) {
    if (!file) return;
    state.file = file;
    state.fileName = file.name.replace(/\.[^.]*$/, "") || "result";
    setStatus("Reading " + file.name + " ...");
    const form = new FormData();
    form.append("file", file, file.name);
    // the password goes in the body, never in the URL (URLs are logged)
    if ($("pdf-password").value) form.append("pdf_password", $("pdf-password").value);
    const query = "include_image=true" + ($("words").checked ? "&return_word_box=true" : "") +
                  ($("small-text").checked ? "&" + SMALL_TEXT : "") +
                  ($("turn-pages").checked ? "&use_doc_orientation_classify=true" : "") +
                  ($("columns").checked ? "&reading_order=columns" : "") +
                  ($("light-text").checked ? "&" + LIGHT_TEXT : "") +
                  ($("as-paddleocr").checked ? "&as_paddleocr=true" : "");
    let response;
    try {
      // same origin: a browser that was asked for the API key (HTTP Basic) sends it again here
      response = await fetch("/ocr?" + query, { method: "POST", body: form, credentials: "same-origin" });
    } catch (err) {
      setStatus("Cannot reach the server (" + err + ")", true);
      return;
    }
    let body = null;
    try { body = await response.json(); } catch (err) { body = null; }
    if (!response.ok) {
      const message = body && body.error ? body.error.message : response.status + " " + response.statusText;
      setStatus("Error " + response.status + ": " + message, true);
      return;
    }
    state.result = body;
    state.page = 0;
    const lines = body.pages.reduce((n, p) => n + (p.lines ? p.lines.length : 0), 0);
    setStatus(file.name + ": " + body.pages.length + (body.pages.length === 1 ? " page, " : " pages, ") +
              lines + " lines in " + Math.round(body.timing_ms.total) + " ms");
    $("copy").disabled = $("download").disabled = false;
    show();
  }

  function show() {
    const pages = state.result.pages;
    const page = pages[state.page];
    $("pager").hidden = pages.length < 2;
    $("page-label").textContent = "page " + (state.page + 1) + " of " + pages.length +
                                  (page.page !== state.page + 1 ? " (page " + page.page + " of the file)" : "");
    $("prev").disabled = state.page === 0;
    $("next").disabled = state.page === pages.length - 1;
    const img = $("page-image");
    if (page.image) img.src = page.image; else img.removeAttribute("src");
    const svg = $("boxes");
    svg.setAttribute("viewBox", "0 0 " + Math.max(1, page.width) + " " + Math.max(1, page.height));
    svg.replaceChildren();
    const list = $("lines");
    list.replaceChildren();
    if (page.error) {
      const item = document.createElement("li");
      item.className = "page-error";
      item.textContent = page.error.message;
      list.appendChild(item);
      return;
    }
    page.lines.forEach((line, i) => {
      const polygon = document.createElementNS(SVG, "polygon");
      polygon.setAttribute("points", line.points.map((p) => p.join(",")).join(" "));
      polygon.dataset.line = i;
      const title = document.createElementNS(SVG, "title");
      title.textContent = line.text;
      polygon.appendChild(title);
      svg.appendChild(polygon);
      (line.words || []).forEach((word) => {   // thin, inside the line's box; the line keeps the pointer events
        const box = document.createElementNS(SVG, "polygon");
        box.setAttribute("points", word.points.map((p) => p.join(",")).join(" "));
        box.setAttribute("class", "word");
        svg.appendChild(box);
      });
      const item = document.createElement("li");
      item.className = "line";
      item.dataset.line = i;
      item.textContent = line.text;
      const score = document.createElement("span");
      score.className = "score";
      score.textContent = line.score.toFixed(2);
      item.appendChild(score);
      list.appendChild(item);
      for (const el of [polygon, item]) {
        el.addEventListener("mouseenter", () => highlight(i, false));
        el.addEventListener("mouseleave", () => highlight(state.selected, false));
        el.addEventListener("click", () => { state.selected = i; highlight(i, true); });
      }
    });
    state.selected = null;
  }

  function highlight(index, scroll) {
    document.querySelectorAll("#boxes polygon, #lines li.line").forEach((el) => {
      el.classList.toggle("active", index !== null && index !== undefined && Number(el.dataset.line) === index);
    });
    if (scroll && index !== null) {
      const item = document.querySelector('#lines li[data-line="' + index + '"]');
      if (item) item.scrollIntoView({ block: "nearest" });
    }
  }

  function allText() {
    return state.result.pages.map((p) => (p.lines || []).map((l) => l.text).join("\n")).join("\n\n");
  }

  async function copyText() {
    const text = allText();
    try {
      await navigator.clipboard.writeText(text);
    } catch (err) {  // no clipboard API (plain http on another host): a hidden textarea and execCommand
      const area = document.createElement("textarea");
      area.value = text;
      document.body.appendChild(area);
      area.select();
      document.execCommand("copy");
      area.remove();
    }
    setStatus("Copied " + text.split("\n").filter(Boolean).length + " lines.");
  }

  function downloadJson() {
    // the result without the page images (they are the server's re-encoding of the upload)
    const pages = state.result.pages.map((p) => { const { image, ...rest } = p; return rest; });
    const blob = new Blob([JSON.stringify({ pages, timing_ms: state.result.timing_ms }, null, 2)],
                          { type: "application/json" });
    const link = document.createElement("a");
    link.href = URL.createObjectURL(blob);
    link.download = state.fileName + ".json";
    document.body.appendChild(link);
    link.click();
    link.remove();
    setTimeout(() => URL.revokeObjectURL(link.href), 1000);
  }

  $("file").addEventListener("change", (e) => upload(e.target.files[0]));
  $("words").addEventListener("change", () => upload(state.file));   // the same file again, with or without words
  $("small-text").addEventListener("change", () => upload(state.file));
  $("turn-pages").addEventListener("change", () => upload(state.file));
  $("columns").addEventListener("change", () => upload(state.file));
  $("light-text").addEventListener("change", () => upload(state.file));
  $("as-paddleocr").addEventListener("change", () => upload(state.file));
  const drop = $("drop");
  drop.addEventListener("dragover", (e) => { e.preventDefault(); drop.classList.add("over"); });
  drop.addEventListener("dragleave", () => drop.classList.remove("over"));
  drop.addEventListener("drop", (e) => {
    e.preventDefault();
    drop.classList.remove("over");
    upload(e.dataTransfer.files[0]);
  });
  $("prev").addEventListener("click", () => { if (state.page > 0) { state.page--; show(); } });
  $("next").addEventListener("click", () => {
    if (state.page < state.result.pages.length - 1) { state.page++; show(); }
  });
  $("copy").addEventListener("click", copyText);
  $("download").addEventListener("click", downloadJson);
})();
