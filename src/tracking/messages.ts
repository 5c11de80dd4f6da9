/** The reminder a coordinator sends a stalled learner (plain text, links on their own line). */
export function reminderMessage(options: {
  name: string;
  programTitle: string;
  link: string;
  senderName: string;
}): { subject: string; text: string } {
  return {
    subject: '【つなぐ】研修の続きのご案内',
    text: `${options.name} さん

「${options.programTitle}」の受講状況について、${options.senderName} さんからご案内です。
しばらく学習の記録がありません。お時間のあるときに、続きから進めてください。
1つのレッスンは10分前後で読めます。

${options.link}

お困りのことがあれば、所属の市町村の担当者にご相談ください。

──────────────────────
長野県ひきこもり支援センター
多職種基礎研修システム「つなぐ」
このメールは送信専用です。ご返信いただいてもお答えできません。`,
  };
}
