/**
 * A small, strict XML reader for SOAP answers from cameras: elements by local name, attributes,
 * text. Everything a camera sends can be hostile, so it is bounded (characters, elements, depth),
 * refuses a DOCTYPE (no entity expansion, no external entities) and anything not well formed, and
 * says where. Namespaces are reduced to local names: the ONVIF answers read here are unambiguous
 * by local name, and cameras disagree on prefixes.
 */

export interface XmlElement {
  /** Local name, without the prefix. */
  readonly name: string;
  /** The prefix as written ("" without one); the topic of an ONVIF event needs it. */
  readonly prefix: string;
  /** Attributes by local name (xmlns declarations included by their full name). */
  readonly attrs: Readonly<Record<string, string>>;
  readonly children: readonly XmlElement[];
  /** The element's own text, concatenated and trimmed (children's text not included). */
  readonly text: string;
}

export interface XmlLimits {
  /** Default 1 MiB of characters. */
  readonly maxChars?: number;
  /** Default 20 000 elements. */
  readonly maxElements?: number;
  /** Default 40 levels. */
  readonly maxDepth?: number;
}

export class XmlError extends Error {
  constructor(message: string) {
    super(message);
    this.name = "XmlError";
  }
}

const NAME = /[A-Za-z_][\w.:-]*/y;

function decodeEntities(s: string, at: number): string {
  return s.replace(/&([^;&\s]{0,10});|&/g, (m, e: string | undefined) => {
    switch (e) {
      case "lt":
        return "<";
      case "gt":
        return ">";
      case "amp":
        return "&";
      case "quot":
        return '"';
      case "apos":
        return "'";
    }
    const num = e === undefined ? null : /^#x([0-9a-fA-F]{1,6})$|^#(\d{1,7})$/.exec(e);
    const code = num === null ? NaN : num[1] ? parseInt(num[1], 16) : Number(num[2]);
    if (Number.isNaN(code) || code > 0x10ffff || (code >= 0xd800 && code <= 0xdfff)) {
      throw new XmlError(`unknown or bad entity '${m}' near character ${at}`);
    }
    return String.fromCodePoint(code);
  });
}

function split(qname: string): { prefix: string; name: string } {
  const i = qname.indexOf(":");
  return i < 0
    ? { prefix: "", name: qname }
    : { prefix: qname.slice(0, i), name: qname.slice(i + 1) };
}

interface Open {
  readonly qname: string;
  readonly prefix: string;
  readonly name: string;
  readonly attrs: Record<string, string>;
  readonly children: XmlElement[];
  text: string;
}

/** Parses one document; throws XmlError saying what is wrong and where. */
export function parseXml(xml: string, limits: XmlLimits = {}): XmlElement {
  const maxChars = limits.maxChars ?? 1 << 20;
  const maxElements = limits.maxElements ?? 20_000;
  const maxDepth = limits.maxDepth ?? 40;
  if (xml.length > maxChars) {
    throw new XmlError(`document of ${xml.length} characters is over the limit of ${maxChars}`);
  }
  const stack: Open[] = [];
  let root: XmlElement | null = null;
  let elements = 0;
  let i = 0;
  const n = xml.length;
  while (i < n) {
    const lt = xml.indexOf("<", i);
    const textEnd = lt < 0 ? n : lt;
    if (textEnd > i) {
      const raw = xml.slice(i, textEnd);
      const top = stack[stack.length - 1];
      if (top === undefined) {
        if (raw.trim() !== "") {
          throw new XmlError(`text outside the root element at character ${i}`);
        }
      } else top.text += decodeEntities(raw, i);
    }
    if (lt < 0) break;
    i = lt;
    if (xml.startsWith("<?", i)) {
      const end = xml.indexOf("?>", i + 2);
      if (end < 0) throw new XmlError(`unterminated processing instruction at character ${i}`);
      i = end + 2;
      continue;
    }
    if (xml.startsWith("<!--", i)) {
      const end = xml.indexOf("-->", i + 4);
      if (end < 0) throw new XmlError(`unterminated comment at character ${i}`);
      i = end + 3;
      continue;
    }
    if (xml.startsWith("<![CDATA[", i)) {
      const end = xml.indexOf("]]>", i + 9);
      const top = stack[stack.length - 1];
      if (end < 0 || top === undefined) throw new XmlError(`bad CDATA section at character ${i}`);
      top.text += xml.slice(i + 9, end);
      i = end + 3;
      continue;
    }
    if (xml.startsWith("<!", i)) {
      // DOCTYPE and its entities are how "billion laughs" and external entities get in.
      throw new XmlError(`DOCTYPE or declaration at character ${i} refused (SOAP has none)`);
    }
    if (xml.startsWith("</", i)) {
      NAME.lastIndex = i + 2;
      const m = NAME.exec(xml);
      const gt = m === null ? -1 : xml.indexOf(">", i);
      if (m === null || gt < 0 || xml.slice(NAME.lastIndex, gt).trim() !== "") {
        throw new XmlError(`bad end tag at character ${i}`);
      }
      const top = stack.pop();
      if (top === undefined || top.qname !== m[0]) {
        throw new XmlError(
          `end tag </${m[0]}> at character ${i} does not close <${top?.qname ?? "(nothing)"}>`,
        );
      }
      close(top);
      i = gt + 1;
      continue;
    }
    // A start tag.
    NAME.lastIndex = i + 1;
    const m = NAME.exec(xml);
    if (m === null) throw new XmlError(`bad start tag at character ${i}`);
    const qname = m[0];
    let j = NAME.lastIndex;
    const attrs: Record<string, string> = {};
    let selfClosing = false;
    for (;;) {
      while (j < n && /\s/.test(xml[j]!)) j++;
      if (j >= n) throw new XmlError(`unterminated start tag <${qname}> at character ${i}`);
      if (xml[j] === ">") {
        j++;
        break;
      }
      if (xml.startsWith("/>", j)) {
        selfClosing = true;
        j += 2;
        break;
      }
      NAME.lastIndex = j;
      const a = NAME.exec(xml);
      if (a === null) throw new XmlError(`bad attribute in <${qname}> at character ${j}`);
      j = NAME.lastIndex;
      while (j < n && /\s/.test(xml[j]!)) j++;
      if (xml[j] !== "=") throw new XmlError(`attribute ${a[0]} without a value at character ${j}`);
      j++;
      while (j < n && /\s/.test(xml[j]!)) j++;
      const q = xml[j];
      if (q !== '"' && q !== "'") {
        throw new XmlError(`unquoted attribute ${a[0]} at character ${j}`);
      }
      const end = xml.indexOf(q, j + 1);
      if (end < 0) throw new XmlError(`unterminated attribute ${a[0]} at character ${j}`);
      const raw = xml.slice(j + 1, end);
      if (raw.includes("<")) throw new XmlError(`'<' in attribute ${a[0]} at character ${j}`);
      const key = a[0].startsWith("xmlns") ? a[0] : split(a[0]).name;
      attrs[key] = decodeEntities(raw, j);
      j = end + 1;
    }
    if (++elements > maxElements) {
      throw new XmlError(`more than ${maxElements} elements`);
    }
    if (root !== null) throw new XmlError(`a second root element <${qname}> at character ${i}`);
    const open: Open = { qname, ...split(qname), attrs, children: [], text: "" };
    if (selfClosing) close(open);
    else {
      stack.push(open);
      if (stack.length > maxDepth) throw new XmlError(`nested deeper than ${maxDepth} elements`);
    }
    i = j;
  }
  if (stack.length > 0) {
    throw new XmlError(`document ends inside <${stack[stack.length - 1]!.qname}>`);
  }
  if (root === null) throw new XmlError("no root element");
  return root;

  function close(o: Open): void {
    const el: XmlElement = {
      name: o.name,
      prefix: o.prefix,
      attrs: o.attrs,
      children: o.children,
      text: o.text.trim(),
    };
    const parent = stack[stack.length - 1];
    if (parent === undefined) root = el;
    else parent.children.push(el);
  }
}

/** The first descendant (depth first, itself included) with this local name. */
export function find(el: XmlElement, name: string): XmlElement | undefined {
  if (el.name === name) return el;
  for (const c of el.children) {
    const f = find(c, name);
    if (f !== undefined) return f;
  }
  return undefined;
}

/** All descendants with this local name (not looking inside a match). */
export function findAll(el: XmlElement, name: string, out: XmlElement[] = []): XmlElement[] {
  for (const c of el.children) {
    if (c.name === name) out.push(c);
    else findAll(c, name, out);
  }
  return out;
}

/** The direct child with this local name. */
export function child(el: XmlElement, name: string): XmlElement | undefined {
  return el.children.find((c) => c.name === name);
}
