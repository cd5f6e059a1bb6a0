// Building the page's nodes. Text always goes in through textContent: nothing from the
// hub is ever parsed as HTML.

const SVG_NS = "http://www.w3.org/2000/svg";

/** An element with an optional class and text. */
export function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

/** An SVG element with these attributes. */
export function svg(tag, attrs) {
  const node = document.createElementNS(SVG_NS, tag);
  for (const [key, value] of Object.entries(attrs || {})) node.setAttribute(key, String(value));
  return node;
}

/** The node's text, touched only when it changes (a screen reader hears changes). */
export function setText(node, text) {
  if (node.textContent !== text) node.textContent = text;
}

/** The element with this id. */
export function byId(id) {
  return document.getElementById(id);
}
