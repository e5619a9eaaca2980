// Building the page from data: elements and text nodes only, never markup
// strings, so nothing from the line or the API is ever parsed as HTML.

const SVG = "http://www.w3.org/2000/svg";

function fill(e, attrs, kids, svg) {
  for (const [k, v] of Object.entries(attrs || {})) {
    if (v == null || v === false) continue;
    if (k === "class") e.setAttribute("class", v);
    else if (k === "text") e.textContent = v;
    else if (k === "on") for (const [ev, fn] of Object.entries(v)) e.addEventListener(ev, fn);
    else if (k === "dataset") Object.assign(e.dataset, v);
    else if (!svg && k in e && typeof v !== "string") e[k] = v;
    else e.setAttribute(k, v === true ? "" : String(v));
  }
  for (const k of kids.flat()) if (k != null && k !== false) e.append(k instanceof Node ? k : String(k));
  return e;
}

// el makes an HTML element: attributes ("class", "text", "dataset", "on":
// {event: handler}, properties such as checked or disabled) and children
// (nodes or strings, which become text).
export function el(tag, attrs, ...kids) { return fill(document.createElement(tag), attrs, kids, false); }

// svg makes an SVG element the same way.
export function svg(tag, attrs, ...kids) { return fill(document.createElementNS(SVG, tag), attrs, kids, true); }

export const $ = (sel, root = document) => root.querySelector(sel);
export const $$ = (sel, root = document) => [...root.querySelectorAll(sel)];
