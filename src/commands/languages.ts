/** Language codes and the translation tasks a model declares. No editor dependency (unit-tested). */

const LANGUAGES: Record<string, string> = {
  de: 'German',
  fr: 'French',
  es: 'Spanish',
  it: 'Italian',
  pt: 'Portuguese',
  nl: 'Dutch',
  zh: 'Chinese',
  ja: 'Japanese',
  ru: 'Russian',
  ro: 'Romanian',
  en: 'English',
};

export function languageName(code: string): string {
  return LANGUAGES[code] ?? code;
}

/** Target languages a model declares (`translation_en_to_de` → `de`). */
export function translationTargets(tasks: readonly string[]): string[] {
  const out: string[] = [];
  for (const t of tasks) {
    const m = /^translation_([a-z]{2,3})_to_([a-z]{2,3})$/i.exec(t);
    if (m && !out.includes(m[2]!.toLowerCase())) out.push(m[2]!.toLowerCase());
  }
  return out;
}
