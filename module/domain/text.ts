// Text shown to people (labels, revoke reasons, the audit) must not hold C0 and C1 controls or the marks that
// reorder or hide text (bidi embeddings, overrides and isolates, LRM/RLM, the Arabic letter mark): with them a
// label or an audit line can be made to read as something else.

// eslint-disable-next-line no-control-regex -- control and direction characters are what it finds
export const UNSHOWABLE = /[\u0000-\u001f\u007f-\u009f\u061c\u200e\u200f\u202a-\u202e\u2066-\u2069]/;

const EVERY_UNSHOWABLE = new RegExp(UNSHOWABLE.source, 'g');

/** The text without those characters: for text from elsewhere whose marks must not cost anyone access. */
export function withoutUnshowable(text: string): string {
  return text.replace(EVERY_UNSHOWABLE, '');
}
