// mmsearch web page: plain JS, no build step, nothing loaded from the network but this server.
// The page's relevance cut-off for text searches: mmsearch.query.ranking.PAGE_MIN_SCORE (tests/e2e/web/test_web_api.py keeps
// the two equal). "More like this" and image searches show every hit: they rank, they do not judge.
const PAGE_MIN_SCORE = 2.0;
"use strict";

(function () {
  const $ = (sel) => document.querySelector(sel);
  const form = $("#search");
  const input = $("#q");
  const results = $("#results");
  const status = $("#status");
  const viewer = $("#viewer");
  const viewerBody = $("#viewer-body");
  const TOKEN_KEY = "mmsearch-token";
  const TOP = 48;

  let hits = [];
  let openIndex = -1;

  // -- access token: ?token=T on the page URL (as printed by `mmsearch serve`), kept for the tab only ---
  (function takeTokenFromUrl() {
    const params = new URLSearchParams(location.search);
    const t = params.get("token");
    if (t) {
      sessionStorage.setItem(TOKEN_KEY, t);
      params.delete("token");
      const rest = params.toString();
      history.replaceState(null, "", location.pathname + (rest ? "?" + rest : "") + location.hash);
    }
  })();
  const token = () => sessionStorage.getItem(TOKEN_KEY) || "";

  // Media URLs (<img>, <video> cannot send headers) come from the server with a media token for that one
  // file in them (?mt=); the access token itself never goes into a URL.
  function withParam(url, param) {
    return url + (url.includes("?") ? "&" : "?") + param;
  }

  async function api(path, options = {}) {
    const headers = Object.assign({ Accept: "application/json" }, options.headers || {});
    if (token()) headers.Authorization = "Bearer " + token();
    const response = await fetch(path, Object.assign({}, options, { headers }));
    if (response.status === 401) {
      $("#token-form").hidden = false;
      $("#token").focus();
      throw new Error("this server needs its access token");
    }
    let body = null;
    try { body = await response.json(); } catch (_) { /* not JSON */ }
    if (!response.ok) {
      const detail = body && body.detail;
      const message = typeof detail === "string" ? detail
        : Array.isArray(detail) ? detail.map((d) => d.msg).join("; ") : response.statusText;
      throw new Error(message || "request failed (" + response.status + ")");
    }
    return body;
  }

  // -- formatting ---------------------------------------------------------------------------------
  function clock(seconds) {
    const s = Math.max(0, Math.round(seconds));
    const pad = (n) => String(n).padStart(2, "0");
    return pad(Math.floor(s / 3600)) + ":" + pad(Math.floor((s % 3600) / 60)) + ":" + pad(s % 60);
  }
  const span = (hit) => (hit.start == null ? "" : clock(hit.start) + "-" + clock(hit.end == null ? hit.start : hit.end));

  function el(tag, attrs = {}, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs)) {
      if (value == null || value === false) continue;
      if (key === "class") node.className = value;
      else if (key === "text") node.textContent = value;
      else if (key.startsWith("data-")) node.setAttribute(key, value);
      else if (key in node) node[key] = value;
      else node.setAttribute(key, value);
    }
    for (const child of children) if (child != null) node.append(child);
    return node;
  }

  const kinds = () => [...document.querySelectorAll('#kinds input[name="kind"]:checked')].map((c) => c.value);

  function addKinds(params) {
    for (const k of kinds()) params.append("kind", k);
    params.set("k", String(TOP));
    return params;
  }

  // -- queries ------------------------------------------------------------------------------------
  async function run(label, request, cutoff = null) {
    status.textContent = "Searching…";
    status.classList.remove("error");
    results.setAttribute("aria-busy", "true");
    try {
      const data = await request();
      // The relevance cut-off: weak matches stay hidden behind a button instead of posing as results.
      const strong = cutoff === null ? data.hits : data.hits.filter((h) => h.score >= cutoff);
      const weak = data.hits.length - strong.length;
      render(strong);
      status.replaceChildren(strong.length
        ? `${strong.length} result${strong.length === 1 ? "" : "s"} for ${label} (${Math.round(data.took_ms)} ms)`
        : `No good match for ${label}.`);
      showPending(data.pending || []);
      if (weak) {
        const more = el("button", { type: "button", class: "weaker", text: `Show ${weak} weaker matches` });
        more.addEventListener("click", () => { render(data.hits); more.remove(); });
        status.append(" ", more);
      }
    } catch (err) {
      status.textContent = err.message;
      status.classList.add("error");
    } finally {
      results.removeAttribute("aria-busy");
    }
  }

  // The page address's query string without a search of its own (?q=, ?kind=): the #q= fragment holds the search.
  function addressRest() {
    const rest = new URLSearchParams(location.search);
    rest.delete("q");
    rest.delete("kind");
    return rest.toString() ? "?" + rest.toString() : "";
  }

  // Work that waits for a model (the API's `pending` lines): one notice under the status, the same words the
  // command line prints after its hits.
  function showPending(lines) {
    const notice = $("#pending");
    notice.hidden = !lines.length;
    notice.replaceChildren(...lines.map((line) => el("p", { text: line })));
  }

  function searchText(q) {
    q = q.trim();
    if (!q) { input.focus(); return; }
    const params = addKinds(new URLSearchParams({ q }));
    const state = new URLSearchParams({ q });
    for (const k of kinds()) state.append("kind", k);
    history.replaceState(null, "", location.pathname + addressRest() + "#" + state.toString());
    return run(`“${q}”`, () => api("/api/search?" + params.toString()), PAGE_MIN_SCORE);
  }

  function searchSimilar(hit) {
    const params = addKinds(new URLSearchParams({ segment_id: String(hit.segment_id) }));
    const label = `more like ${hit.name}${hit.start != null ? " " + span(hit) : ""}`;
    return run(label, () => api("/api/similar?" + params.toString()));
  }

  function searchImage(file) {
    const body = new FormData();
    body.append("file", file);
    const params = addKinds(new URLSearchParams());
    return run(`images like ${file.name}`, () => api("/api/search/image?" + params.toString(), { method: "POST", body }));
  }

  // -- results grid -------------------------------------------------------------------------------
  function thumbnail(hit) {
    const box = el("div", { class: "thumb thumb-" + hit.kind });
    if (hit.kind === "image" || hit.kind === "video" || hit.kind === "audio") {
      if (hit.thumb_url) {
        box.append(el("img", { src: hit.thumb_url, alt: "", loading: "lazy", decoding: "async" }));
        const read = textBoxes(hit);
        if (read) box.append(read);
      }
      if (hit.kind === "video") box.append(el("span", { class: "badge play", "aria-hidden": "true", text: "▶" }));
      if (hit.kind === "audio") box.append(el("span", { class: "badge note", "aria-hidden": "true", text: "♪" }));
    } else {
      box.append(el("blockquote", { class: "snippet", text: hit.text || hit.name }));
      if (hit.linked_thumb_url) {
        box.append(el("img", { class: "linked", src: hit.linked_thumb_url, alt: "", loading: "lazy" }));
      }
    }
    return box;
  }

  // A hit whose drive is not mounted (offline) or whose file is gone (missing): found, cannot be opened.
  function presence(hit) {
    if (hit.offline) return el("span", { class: "presence", title: "its drive or folder is offline: it opens once it is back", text: "offline" });
    if (hit.missing) return el("span", { class: "presence", title: "its file is gone from disk", text: "missing" });
    return null;
  }

  // The text read in a picture or video frame, when that is what matched (text hits show their text anyway).
  const readText = (hit) => ((hit.signals || []).includes("ocr") && hit.kind !== "text" ? hit.text : null);

  // The words that matched on a picture, recording or video hit (OCR, transcript, subtitle); text hits show theirs
  // in the snippet already. One element per card, clamped by the stylesheet so it never spills out.
  function matchedText(hit) {
    if (hit.kind === "text" || !hit.text) return null;
    const ocr = readText(hit) !== null;
    return el("div", { class: ocr ? "said ocr-text" : "said", text: hit.text,
                       title: ocr ? "text read in the picture" : "what was said or shown" });
  }

  // The text read in the picture (OCR) outlined over its thumbnail: an SVG in the picture's own pixels, fitted
  // like the image (object-fit: contain <-> preserveAspectRatio meet), so no measuring is needed.
  function textBoxes(hit) {
    if (!hit.boxes || !hit.boxes.length || !hit.boxes_size) return null;
    // The HTML parser gives an <svg> its namespace: no namespace URL in this file (the page names no URL).
    const template = document.createElement("template");
    template.innerHTML = "<svg></svg>";
    const svg = template.content.firstChild;
    const ns = svg.namespaceURI;
    svg.setAttribute("viewBox", `0 0 ${hit.boxes_size[0]} ${hit.boxes_size[1]}`);
    svg.setAttribute("preserveAspectRatio", "xMidYMid meet");
    svg.setAttribute("aria-hidden", "true");
    // Classes and presentation attributes, never a style attribute: the page's CSP (style-src 'self') drops those.
    svg.setAttribute("class", "ocr-boxes");
    const stroke = Math.max(2, hit.boxes_size[0] / 200);
    for (const quad of hit.boxes) {
      const outline = document.createElementNS(ns, "polygon");
      outline.setAttribute("points", quad.map((p) => p.join(",")).join(" "));
      outline.setAttribute("class", "ocr-box");
      outline.setAttribute("stroke-width", String(stroke));
      svg.append(outline);
    }
    return svg;
  }

  function render(list) {
    hits = list;
    results.replaceChildren();
    list.forEach((hit, i) => {
      const time = span(hit);
      const card = el(
        "article",
        {
          class: "hit", tabIndex: 0, "data-index": i, "data-kind": hit.kind, "data-path": hit.path,
          "data-media-id": hit.media_id, "data-segment-id": hit.segment_id, "data-start": hit.start,
          "aria-label": `${i + 1}. ${hit.kind} ${hit.name}${time ? " " + time : ""}, score ${hit.score.toFixed(3)}`,
          title: hit.path,
        },
        thumbnail(hit),
        el("div", { class: "meta" },
          el("span", { class: "kind kind-" + hit.kind, text: hit.kind }),
          el("span", { class: "score", text: hit.score.toFixed(3) }),
          time ? el("span", { class: "time", text: time }) : null,
          el("span", { class: "signals", title: "what found it", text: (hit.signals || []).join(" · ") }),
          presence(hit)),
        el("div", { class: "name", text: hit.name }),
        matchedText(hit),
        el("button", { type: "button", class: "more", tabIndex: -1, text: "More like this", "data-action": "more" }),
      );
      results.append(el("li", {}, card));
    });
  }

  const cards = () => [...results.querySelectorAll(".hit")];

  function columns() {
    const all = cards();
    if (all.length < 2) return 1;
    const top = all[0].offsetTop;
    const n = all.findIndex((c) => c.offsetTop !== top);
    return n === -1 ? all.length : n;
  }

  function focusCard(i) {
    const all = cards();
    if (!all.length) return;
    const card = all[Math.max(0, Math.min(all.length - 1, i))];
    card.focus();
    card.scrollIntoView({ block: "nearest" });
  }

  results.addEventListener("click", (event) => {
    const card = event.target.closest(".hit");
    if (!card) return;
    const hit = hits[Number(card.dataset.index)];
    if (event.target.closest('[data-action="more"]')) searchSimilar(hit);
    else openHit(Number(card.dataset.index));
  });

  results.addEventListener("keydown", (event) => {
    const card = event.target.closest(".hit");
    if (!card || event.altKey || event.ctrlKey || event.metaKey) return;
    const i = Number(card.dataset.index);
    const step = { ArrowRight: 1, ArrowLeft: -1, ArrowDown: columns(), ArrowUp: -columns() }[event.key];
    if (step !== undefined) {
      event.preventDefault();
      focusCard(i + step);
    } else if (event.key === "Home" || event.key === "End") {
      event.preventDefault();
      focusCard(event.key === "Home" ? 0 : cards().length - 1);
    } else if ((event.key === "Enter" || event.key === " ") && event.target === card) {
      event.preventDefault();
      openHit(i);
    } else if (event.key === "m" || event.key === "M") {
      event.preventDefault();
      searchSimilar(hits[i]);
    }
  });

  // From the search box, ArrowDown goes to the first result.
  input.addEventListener("keydown", (event) => {
    if (event.key === "ArrowDown" && cards().length) {
      event.preventDefault();
      focusCard(0);
    }
  });

  // -- viewer -------------------------------------------------------------------------------------
  function stopMedia() {
    for (const media of viewerBody.querySelectorAll("video, audio")) {
      media.pause();
      media.removeAttribute("src");
      media.load();
    }
  }

  // Play a video or audio element from `start`; an audio segment stops at `end`.
  function playFrom(media, start, end, stopAtEnd) {
    media.dataset.start = String(start);
    const seekAndPlay = () => {
      media.addEventListener("seeked", () => {
        media.dataset.seekedAt = String(media.currentTime);
        media.dataset.seeked = "1";
        const playing = media.play();
        if (playing && playing.catch) playing.catch(() => { /* autoplay refused: the controls remain */ });
      }, { once: true });
      media.currentTime = start;
    };
    if (media.readyState >= 1) seekAndPlay();
    else media.addEventListener("loadedmetadata", seekAndPlay, { once: true });
    if (stopAtEnd && end != null && end > start) {
      const stop = () => {
        if (media.currentTime >= end) {
          media.pause();
          media.removeEventListener("timeupdate", stop);
        }
      };
      media.addEventListener("timeupdate", stop);
    }
  }

  function openHit(i) {
    const hit = hits[i];
    if (!hit) return;
    openIndex = i;
    stopMedia();
    $("#viewer-title").textContent = hit.name + (hit.start != null ? "  " + span(hit) : "");
    const src = hit.media_url;
    let body;
    if (hit.kind === "image") {
      body = el("img", { src, alt: hit.name });
    } else if (hit.kind === "video") {
      body = el("video", { controls: true, preload: "auto", src, playsInline: true });
      playFrom(body, hit.start || 0, hit.end, false);
    } else if (hit.kind === "audio") {
      body = el("div", { class: "audio" });
      if (hit.thumb_url) body.append(el("img", { src: hit.thumb_url, alt: "" }));
      const audio = el("audio", { controls: true, preload: "auto", src });
      body.append(audio);
      playFrom(audio, hit.start || 0, hit.end, true);
    } else {
      body = el("div", { class: "text" }, el("pre", { class: "fulltext", text: hit.text || "" }));
      if (hit.linked_thumb_url) {
        body.append(el("p", {}, "Caption of ", el("code", { text: hit.linked })));
        body.append(el("img", { src: hit.linked_thumb_url, alt: "" }));
      }
      body.append(el("p", {}, el("a", { href: src, target: "_blank", rel: "noopener", text: "Open the file" })));
    }
    if (hit.kind !== "text" && hit.text) body = el("div", {}, body, el("pre", { class: "fulltext", text: hit.text }));
    if (hit.offline || hit.missing) {
      body = el("p", { class: "unavailable", text: hit.offline
        ? "This file's drive or folder is offline: it opens once the drive is back."
        : "This file is gone from disk: the library forgets it after a few index runs." });
    }
    viewerBody.replaceChildren(body);
    $("#viewer-meta").textContent = `${hit.kind} · score ${hit.score.toFixed(3)} · ${hit.path}`;
    if (!viewer.open) viewer.showModal();
    $("#viewer-close").focus();
  }

  function closeViewer() {
    if (viewer.open) viewer.close();
  }

  viewer.addEventListener("close", () => {
    stopMedia();
    viewerBody.replaceChildren();
    if (openIndex >= 0) focusCard(openIndex);
  });
  viewer.addEventListener("click", (event) => { if (event.target === viewer) closeViewer(); });
  $("#viewer-close").addEventListener("click", closeViewer);
  $("#viewer-like").addEventListener("click", () => {
    const hit = hits[openIndex];
    closeViewer();
    if (hit && hit.segment_id) searchSimilar(hit);
  });
  viewer.addEventListener("keydown", (event) => {
    // Left/right in the viewer step through the results (not while a player has focus).
    if (event.target.closest("video, audio, input")) return;
    if (event.key === "ArrowRight" && openIndex < hits.length - 1) openHit(openIndex + 1);
    else if (event.key === "ArrowLeft" && openIndex > 0) openHit(openIndex - 1);
  });

  // -- stats and errors ---------------------------------------------------------------------------
  async function loadStats() {
    try {
      const stats = await api("/api/stats");
      const kindsText = Object.entries(stats.by_kind).sort().map(([k, n]) => `${k} ${n}`).join(" · ");
      const models = stats.spaces.map((s) => s.model).join(", ");
      $("#stats").textContent = `${stats.files} files${kindsText ? " (" + kindsText + ")" : ""}${models ? " · " + models : ""}`;
      const button = $("#show-errors");
      button.hidden = !stats.errors;
      button.textContent = `${stats.errors} file${stats.errors === 1 ? "" : "s"} could not be indexed`;
    } catch (err) {
      $("#stats").textContent = err.message;
    }
  }

  $("#show-errors").addEventListener("click", async () => {
    try {
      const rows = await api("/api/errors");
      openIndex = -1;
      $("#viewer-title").textContent = "Files that could not be indexed";
      viewerBody.replaceChildren(el("ul", { class: "errors" },
        ...rows.map((r) => el("li", {}, el("code", { text: r.path }), ` [${r.stage}] ${r.message}`))));
      $("#viewer-meta").textContent = "";
      viewer.showModal();
    } catch (err) {
      status.textContent = err.message;
    }
  });

  // -- near-duplicates: groups of the same picture or moment, the copy to keep first (GET /api/duplicates) ----
  function duplicateCard(item, role) {
    const src = withParam(item.thumb_url, "size=160");
    const size = item.width && item.height ? `${item.width}×${item.height}` : "";
    const when = item.kind === "scene" ? span(item) : item.duration ? `${item.duration.toFixed(1)} s` : "";
    const bits = item.bits == null ? "" : `${item.bits} bits`;
    return el("li", { class: "dup " + role },
      el("img", { src, alt: item.path, loading: "lazy" }),
      el("span", { class: "dup-role", text: role }),
      el("code", { text: item.path.split("/").pop(), title: item.path }),
      el("span", { class: "dup-meta", text: [size, when, bits].filter(Boolean).join(" · ") }),
      ...(item.why ? [el("span", { class: "dup-meta dup-why", text: duplicateWhy(item.why) })] : []));
  }

  // why a copy is one (the `why` of GET /api/duplicates): what decided, and each piece of evidence
  function duplicateWhy(w) {
    const parts = [`by ${w.decided_by}`];
    if (w.bits != null) parts.push(`hash ${w.bits}/${w.threshold} bits, alone ≤ ${w.trusted_bits < 0 ? "never" : w.trusted_bits}`);
    if (w.relative != null) parts.push(`vectors ${w.relative.toFixed(2)} of a typical pair (≤ ${w.max_relative})`);
    if (w.check) parts.push(`pixels ${w.check.disagreement.toFixed(2)} (≤ ${w.check.max_disagreement}), aligned by ${w.check.aligned}`);
    return parts.join(" · ");
  }

  $("#show-duplicates").addEventListener("click", async () => {
    try {
      status.textContent = "Looking for duplicates…";
      const data = await api("/api/duplicates");
      status.textContent = "";
      openIndex = -1;
      const n = data.groups.length;
      $("#viewer-title").textContent = n ? `${n} group${n === 1 ? "" : "s"} of duplicates` : "No duplicates";
      viewerBody.replaceChildren(el("div", { class: "dups" }, ...data.groups.map((g) => el("section", { class: "dup-group" },
        el("h3", { text: g.kind }),
        el("ol", { class: "dup-list" }, duplicateCard(g.keep, "keep"), ...g.copies.map((c) => duplicateCard(c, "copy")))))));
      const compared = Object.entries(data.compared).map(([k, v]) => `${v} ${k}`).join(", ");
      $("#viewer-meta").textContent = `threshold ${data.threshold} bits · compared ${compared}` +
        (data.notes.length ? " · " + data.notes.join(" · ") : "");
      viewer.showModal();
    } catch (err) {
      status.textContent = err.message;
    }
  });

  // -- wiring -------------------------------------------------------------------------------------
  form.addEventListener("submit", (event) => {
    event.preventDefault();
    searchText(input.value);
  });
  $("#image-query").addEventListener("change", (event) => {
    const file = event.target.files && event.target.files[0];
    if (file) searchImage(file);
    event.target.value = "";
  });
  $("#token-form").addEventListener("submit", (event) => {
    event.preventDefault();
    sessionStorage.setItem(TOKEN_KEY, $("#token").value.trim());
    $("#token-form").hidden = true;
    loadStats();
    if (input.value.trim()) searchText(input.value);
  });
  document.addEventListener("keydown", (event) => {
    // "/" jumps to the search box, as on many sites.
    if (event.key === "/" && !event.target.closest("input, textarea") && !viewer.open) {
      event.preventDefault();
      input.focus();
      input.select();
    }
  });

  // A search kept in the address (#q=...&kind=..., or a typed ?q=...) runs again on reload or when shared.
  const fromAddress = () => {
    const hash = new URLSearchParams(location.hash.slice(1));
    return hash.get("q") ? hash : new URLSearchParams(location.search);
  };
  const initial = fromAddress();
  for (const k of initial.getAll("kind")) {
    const box = document.querySelector(`#kinds input[value="${CSS.escape(k)}"]`);
    if (box) box.checked = true;
  }
  loadStats();
  if (initial.get("q")) {
    input.value = initial.get("q");
    searchText(input.value);
  }
})();
