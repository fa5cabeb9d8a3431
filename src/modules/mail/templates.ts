/**
 * The mails the platform sends. Text a user chose (names of people and organizations) appears only inside double
 * quotes, in the middle of a sentence of ours: never at the start of a line, never on a line of its own, never as a
 * link, so nobody can make a line of a Safeclose mail read as the platform's own words.
 */

export interface RenderedMail {
  subject: string;
  text: string;
}

/** Characters single-line fields refuse (controls, line separators, bidi controls); stored rows may predate that rule. */
const NOT_ON_ONE_LINE = /[\p{Cc}\p{Zl}\p{Zp}\p{Bidi_Control}]/gu;

const oneLine = (value: string) => value.replace(NOT_ON_ONE_LINE, '\uFFFD');

/**
 * User-supplied text for a mail: on one line (anything a single-line field refuses becomes U+FFFD), at most `max`
 * characters, in double quotes with inner quotes and backslashes escaped so the quotes cannot be closed early.
 */
export function quoted(value: string, max = 120): string {
  const characters = Array.from(oneLine(value));
  const shown = characters.length > max ? `${characters.slice(0, max).join('')}…` : characters.join('');
  return `"${shown.replace(/[\\"]/g, (character) => `\\${character}`)}"`;
}

export function invitationMail(input: { inviterName: string; inviterEmail: string; organizationName: string; link: string; days: number }): RenderedMail {
  const organization = quoted(input.organizationName);
  return {
    subject: `Invitation to join ${organization} on Safeclose`,
    text: [
      'Hello,',
      '',
      `You are invited to join the organization ${organization} on Safeclose. The invitation comes from the Safeclose user ${quoted(input.inviterName)} (${oneLine(input.inviterEmail)}).`,
      '',
      `To accept, sign in (or sign up) with this email address and open this link within ${input.days} days:`,
      '',
      input.link,
      '',
      'The link works once. If you did not expect this invitation, ignore this message.',
    ].join('\n'),
  };
}

/** The account's name is left out: whoever signed up with this address chose it, and it may not be its owner. */
export function passwordResetMail(input: { link: string; minutes: number }): RenderedMail {
  return {
    subject: 'Reset your Safeclose password',
    text: [
      'Hello,',
      '',
      `Someone asked to reset the password of the Safeclose account for this email address. To choose a new password, open this link within ${input.minutes} minutes:`,
      '',
      input.link,
      '',
      'The link works once. If you did not ask for this, ignore this message: your password stays as it is.',
    ].join('\n'),
  };
}

/** A sign-up's link. The name the person typed is left out: anyone can sign up with any address. */
export function emailVerificationMail(input: { link: string; hours: number }): RenderedMail {
  return {
    subject: 'Confirm your email address for Safeclose',
    text: [
      'Hello,',
      '',
      `Someone signed up for Safeclose with this email address. To confirm it and finish signing up, open this link within ${input.hours} hours:`,
      '',
      input.link,
      '',
      'The link works once. If you did not sign up, ignore this message: no account is confirmed without it.',
    ].join('\n'),
  };
}

/** What a sign-up with an address that already has an account mails instead of a link: nothing changes. */
export function accountExistsMail(input: { signInLink: string; resetLink: string }): RenderedMail {
  return {
    subject: 'You already have a Safeclose account',
    text: [
      'Hello,',
      '',
      'Someone tried to sign up for Safeclose with this email address, which already has an account. Nothing was changed.',
      '',
      'To use your account, sign in:',
      '',
      input.signInLink,
      '',
      'If you forgot your password, ask for a reset link here:',
      '',
      input.resetLink,
      '',
      'If you did not try to sign up, ignore this message.',
    ].join('\n'),
  };
}

/** Sent to the new address of an email change; the change takes effect only when the link is followed. */
export function emailChangeMail(input: { link: string; hours: number }): RenderedMail {
  return {
    subject: 'Confirm your new email address for Safeclose',
    text: [
      'Hello,',
      '',
      `Someone asked to use this email address for their Safeclose account. To confirm it, open this link within ${input.hours} hours:`,
      '',
      input.link,
      '',
      'The link works once. Until it is followed the account keeps its old address. If you did not ask for this, ignore this message.',
    ].join('\n'),
  };
}
