// A TypeScript file to try inline completions: type after the last line and wait for ghost text.

export interface Person {
  name: string;
  age: number;
}

export function greet(person: Person): string {
  return `Hello, ${person.name}! You are ${person.age} years old.`;
}

export function oldest(people: Person[]): Person | undefined {
  return people.reduce<Person | undefined>((best, p) => (best && best.age >= p.age ? best : p), undefined);
}
