/**
 * The little XML S3 answers with (error bodies, `ListObjectsV2` pages), read
 * without a DOM parser, which Node, Deno and workers do not all have. S3's
 * answers are flat, well-formed and free of CDATA, so elements are found by
 * name and their text unescaped.
 *
 * @module
 */

const ENTITIES: Record<string, string> = { amp: "&", lt: "<", gt: ">", quot: '"', apos: "'" };

/**
 * Replaces XML's character references and predefined entities.
 *
 * @param text Element text.
 * @returns The text as written.
 * @example
 * ```ts
 * import { unescapeXml } from "./xml.ts";
 * if (unescapeXml("a&amp;b&#x20;&lt;c&gt;") !== "a&b <c>") throw new Error();
 * ```
 */
export function unescapeXml(text: string): string {
  return text.replace(/&(#x[0-9a-fA-F]+|#[0-9]+|[a-z]+);/g, (whole, ref: string) => {
    if (ref.startsWith("#x")) return String.fromCodePoint(parseInt(ref.slice(2), 16));
    if (ref.startsWith("#")) return String.fromCodePoint(parseInt(ref.slice(1), 10));
    return ENTITIES[ref] ?? whole;
  });
}

/**
 * The text of every element named `tag` in `xml`, in document order.
 *
 * @param xml The document or a fragment of it.
 * @param tag The element name.
 * @returns Each element's inner text, unescaped.
 * @example Keys of a listing
 * ```ts
 * import { xmlElements } from "./xml.ts";
 * const keys = xmlElements("<R><Contents><Key>a</Key></Contents><Contents><Key>b&amp;c</Key></Contents></R>", "Key");
 * if (keys.join() !== "a,b&c") throw new Error();
 * ```
 */
export function xmlElements(xml: string, tag: string): string[] {
  const found: string[] = [];
  const pattern = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, "g");
  for (const match of xml.matchAll(pattern)) found.push(unescapeXml(match[1] ?? ""));
  return found;
}

/**
 * The text of the first element named `tag`, or `undefined`.
 *
 * @param xml The document.
 * @param tag The element name.
 * @returns The text, unescaped.
 * @example An S3 error code
 * ```ts
 * import { xmlElement } from "./xml.ts";
 * if (xmlElement("<Error><Code>NoSuchKey</Code></Error>", "Code") !== "NoSuchKey") throw new Error();
 * ```
 */
export function xmlElement(xml: string, tag: string): string | undefined {
  return xmlElements(xml, tag)[0];
}

/**
 * The raw inner XML of every element named `tag`, not unescaped, to read
 * nested elements from (`Contents` of a listing).
 *
 * @param xml The document.
 * @param tag The element name.
 * @returns Each element's inner XML.
 * @example Two entries of a listing
 * ```ts
 * import { xmlBlocks, xmlElement } from "./xml.ts";
 * const blocks = xmlBlocks("<R><Contents><Key>a&lt;</Key></Contents><Contents><Key>b</Key></Contents></R>", "Contents");
 * if (blocks.map((b) => xmlElement(b, "Key")).join() !== "a<,b") throw new Error();
 * ```
 */
export function xmlBlocks(xml: string, tag: string): string[] {
  const pattern = new RegExp(`<${tag}(?:\\s[^>]*)?>([\\s\\S]*?)</${tag}>`, "g");
  return [...xml.matchAll(pattern)].map((match) => match[1] ?? "");
}
