// What a password must be before the manager stores its hash: long enough to resist guessing offline,
// not the user's own name, and not one of the passwords attackers try first (a short list kept here, by
// design: it refuses the obvious, the length rule does the rest). Checked for every new password: users
// added by an administrator, changed passwords, and the first administrator from the config.
import { ValidationError } from '@opencdp/core';

export const MIN_PASSWORD_LENGTH = 12;
export const MAX_PASSWORD_LENGTH = 200;

/**
 * Passwords (and bases of passwords, before trailing digits and symbols) seen first in breach lists and
 * in the defaults of appliances. Lowercase; compared with the lowercased password.
 */
const COMMON = new Set([
  'password', 'passw0rd', 'p@ssw0rd', 'p@ssword', 'qwerty', 'qwertyuiop', 'qwertyuiop123', 'asdfghjkl', 'zxcvbnm', 'azerty', 'letmein', 'welcome',
  'admin', 'administrator', 'root', 'toor', 'changeme', 'change-me', 'changeme123', 'default', 'secret', 'master', 'iloveyou', 'monkey', 'dragon',
  'football', 'baseball', 'sunshine', 'princess', 'shadow', 'superman', 'trustno1', 'whatever', 'starwars', 'computer', 'internet', 'freedom',
  'abc123', 'abcdef', 'abcdefgh', 'abcdefghijkl', 'abcd1234', 'a1b2c3d4', '1q2w3e4r', '1q2w3e4r5t6y', 'q1w2e3r4t5y6', '1qaz2wsx', '1qaz2wsx3edc',
  'zaq12wsx', 'zaq1zaq1', 'qazwsx', 'qazwsxedc', 'passwordpassword', 'password123', 'password1234', 'welcome123', 'letmein123', 'admin123', 'admin1234',
  'administrator1', 'opencdp', 'opencdp123', 'zerto', 'zerto123', 'vmware', 'vmware123', 'backup', 'recovery', 'disaster', 'summer', 'winter',
  'spring', 'autumn', 'january', 'december', 'hello', 'helloworld', 'hello123', 'login', 'guest', 'user', 'test', 'testing', 'test1234', 'demo',
  'correcthorsebatterystaple', 'correct horse battery staple', 'iloveyou123', 'mypassword', 'newpassword', 'mysecret', 'supersecret', 'topsecret',
]);

/** Refuses a password the policy does not allow, naming the rule (ValidationError on field `password`). */
export function checkPasswordPolicy(password: string, userName: string): void {
  const refuse = (why: string): never => {
    throw new ValidationError(`the password ${why}`, 'password', `choose at least ${MIN_PASSWORD_LENGTH} characters, e.g. a few unrelated words`);
  };
  if (typeof password !== 'string') refuse('must be a string');
  if (password.length < MIN_PASSWORD_LENGTH) refuse(`is shorter than ${MIN_PASSWORD_LENGTH} characters`);
  if (password.length > MAX_PASSWORD_LENGTH) refuse(`is longer than ${MAX_PASSWORD_LENGTH} characters`);
  const lower = password.toLowerCase();
  const name = userName.toLowerCase();
  if (name.length >= 3 && lower.includes(name)) refuse('contains the user name');
  const base = lower.replace(/[^a-z]+$/g, '').replace(/^[^a-z]+/g, '');
  if (COMMON.has(lower) || COMMON.has(base) || COMMON.has(lower.replace(/[^a-z0-9@]/g, ''))) refuse('is one of the most common passwords');
  if (new Set(password).size < 5) refuse('uses fewer than 5 different characters');
  if (isRun(lower)) refuse('is a keyboard or counting sequence');
}

/** Runs like `1234567890ab`, `abcdefghijkl` or `987654321...`: each character one step from the last. */
function isRun(s: string): boolean {
  let steps = 0;
  for (let i = 1; i < s.length; i++) if (Math.abs(s.charCodeAt(i) - s.charCodeAt(i - 1)) === 1) steps++;
  return steps >= s.length - 2;
}
