import { formatDateTime } from '../lib/dates.js';
import { ROLE_LABELS, type Role } from '../users/roles.js';

/** The Japanese text of every message Tsunagu sends. Plain text; links on their own line. */
export interface MessageContent {
  subject: string;
  text: string;
}

const SIGNATURE = `
──────────────────────
長野県ひきこもり支援センター
多職種基礎研修システム「つなぐ」
このメールは送信専用です。ご返信いただいてもお答えできません。`;

export function invitationMessage(options: {
  inviterName: string;
  municipalityName: string | null;
  roles: Role[];
  link: string;
  expiresAt: Date;
}): MessageContent {
  const roles = options.roles.map((role) => ROLE_LABELS[role]).join('、');
  return {
    subject: '【つなぐ】研修システムへの招待',
    text: `${options.inviterName} さんから、研修システム「つなぐ」への招待が届いています。

所属市町村：${options.municipalityName ?? '（センター）'}
役割：${roles}

次のリンクを開き、氏名とパスワードを登録してください。

${options.link}

このリンクは ${formatDateTime(options.expiresAt)} まで、1回だけ使えます。
お心当たりのない場合は、このメールを破棄してください。
${SIGNATURE}`,
  };
}

export function passwordResetMessage(options: {
  name: string;
  link: string;
  expiresAt: Date;
}): MessageContent {
  return {
    subject: '【つなぐ】パスワードの再設定',
    text: `${options.name} さん

パスワードの再設定のお申し込みを受け付けました。
次のリンクを開き、新しいパスワードを設定してください。

${options.link}

このリンクは ${formatDateTime(options.expiresAt)} まで（1時間）、1回だけ使えます。
お申し込みに心当たりのない場合は、このメールを破棄してください。パスワードは変わりません。
${SIGNATURE}`,
  };
}

export function passwordChangedMessage(options: {
  name: string;
  loginUrl: string;
}): MessageContent {
  return {
    subject: '【つなぐ】パスワードが変更されました',
    text: `${options.name} さん

あなたのアカウントのパスワードが変更されました。

お心当たりのない場合は、すぐに次のページからパスワードを再設定し、センターにご連絡ください。
${options.loginUrl}
${SIGNATURE}`,
  };
}

export function registrationReceivedMessage(options: {
  name: string;
  municipalityName: string;
}): MessageContent {
  return {
    subject: '【つなぐ】利用登録の申請を受け付けました',
    text: `${options.name} さん

研修システム「つなぐ」の利用登録の申請を受け付けました。
${options.municipalityName}の担当者が確認し、承認されるとメールでお知らせします。
承認まで、しばらくお待ちください。
${SIGNATURE}`,
  };
}

/** To the owner of an address someone tried to register again (the form answered as usual). */
export function registrationExistingMessage(options: {
  name: string;
  loginUrl: string;
  resetUrl: string;
}): MessageContent {
  return {
    subject: '【つなぐ】利用登録の申請について',
    text: `${options.name} さん

このメールアドレスで、研修システム「つなぐ」の利用登録の申請がありました。
このメールアドレスのアカウントはすでにあるため、新しいアカウントは作成していません。

ご本人による申請の場合は、次のページからログインしてください。
${options.loginUrl}

パスワードを忘れた場合は、次のページから再設定できます。
${options.resetUrl}

お心当たりのない場合は、このメールを破棄してください。アカウントに変更はありません。
${SIGNATURE}`,
  };
}

export function registrationPendingMessage(options: {
  municipalityName: string;
  approvalsUrl: string;
}): MessageContent {
  return {
    subject: '【つなぐ】承認待ちの利用登録があります',
    text: `${options.municipalityName}の利用登録の申請が届いています。
次のページで内容を確認し、承認または却下してください。

${options.approvalsUrl}
${SIGNATURE}`,
  };
}

export function registrationApprovedMessage(options: {
  name: string;
  loginUrl: string;
}): MessageContent {
  return {
    subject: '【つなぐ】利用登録が承認されました',
    text: `${options.name} さん

利用登録が承認されました。次のページから、登録したメールアドレスとパスワードでログインできます。

${options.loginUrl}
${SIGNATURE}`,
  };
}

export function registrationRejectedMessage(options: { name: string }): MessageContent {
  return {
    subject: '【つなぐ】利用登録について',
    text: `${options.name} さん

申請いただいた利用登録は、承認されませんでした。
ご不明な点は、お住まいの市町村の担当窓口またはセンターにお問い合わせください。
${SIGNATURE}`,
  };
}

/**
 * An in-app notification by mail (src/notifications): its title, one sentence and the link. It
 * carries nothing of the record it is about, so a mail read by the wrong person tells them nothing.
 */
export function notificationMessage(options: {
  title: string;
  sentence: string;
  link: string;
}): MessageContent {
  return {
    subject: `【つなぐ】${options.title}`,
    text: `${options.sentence}
次のリンクを開いて、ログインのうえご確認ください。

${options.link}

お知らせのメールは「アカウント」のページで止められます（画面のお知らせは届きます）。
${SIGNATURE}`,
  };
}

export function emailChangeMessage(options: {
  name: string;
  link: string;
  expiresAt: Date;
}): MessageContent {
  return {
    subject: '【つなぐ】メールアドレス変更の確認',
    text: `${options.name} さん

研修システム「つなぐ」のログインに使うメールアドレスを、このアドレスに変更する手続きが行われました。
次のリンクを開き、「変更を確定する」を押すと変更が完了します。それまでは、これまでのアドレスでログインしてください。

${options.link}

このリンクは ${formatDateTime(options.expiresAt)} まで使えます。
お心当たりのない場合は、このメールを破棄してください（アドレスは変更されません）。
${SIGNATURE}`,
  };
}
