/**
 * The language a prompt is written in, guessed from how it starts, so that Generate from Prompt
 * opens its document with the right highlighting (a prompt of Python code reads as Python).
 */
const SIGNS: readonly (readonly [RegExp, string])[] = [
  [/^\s*(def |class \w+[(:]|import \w+|from \w+(\.\w+)* import |#!.*python|if __name__ ==)/m, 'python'],
  [/^\s*(interface \w+|type \w+ = |export (type|interface) |function \w+\([^)]*:\s*\w|const \w+: \w)/m, 'typescript'],
  [/^\s*(function \w+\(|const \w+ = |let \w+ = |export (default |function |const )|import .* from ['"]|module\.exports)/m, 'javascript'],
  [/^\s*(#include|int main\(|std::)/m, 'cpp'],
  [/^\s*(package \w+;|public (static )?class )/m, 'java'],
  [/^\s*(fn \w+\(|use \w+(::\w+)*;|let mut )/m, 'rust'],
  [/^\s*(#!\/bin\/(ba)?sh|\$ \w+)/m, 'shellscript'],
  [/^\s*(<!DOCTYPE html|<html|<div)/im, 'html'],
  [/^\s*(#{1,6} \S|[-*] \S.*\n[-*] \S)/m, 'markdown'],
];

export function promptLanguage(prompt: string): string {
  for (const [sign, language] of SIGNS) if (sign.test(prompt)) return language;
  return 'plaintext';
}
