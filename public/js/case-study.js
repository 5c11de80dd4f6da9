/* global setTimeout, clearTimeout, fetch, HTMLTextAreaElement */
// The case-study form: live character counts and autosave. The form works without this file
// (「下書きを保存」 posts it); this only adds comfort. Nothing typed is ever dropped: a failed save
// is retried, and a newer save from another tab stops autosaving here instead of overwriting it.
(() => {
  const form = document.querySelector('form[data-case-study]');
  if (!form) return;
  const url = form.getAttribute('data-autosave-url');
  const csrfInput = form.querySelector('input[name="_csrf"]');
  const revisionInput = form.querySelector('[data-revision]');
  const status = form.querySelector('[data-save-status]');
  const areas = Array.from(form.querySelectorAll('textarea[data-section]'));

  // Characters as a reader counts them (𠮷 or 👩‍⚕️ is one), like the server's countCharacters.
  const segmenter =
    typeof Intl !== 'undefined' && Intl.Segmenter
      ? new Intl.Segmenter('ja', { granularity: 'grapheme' })
      : null;
  const count = (text) => {
    if (!segmenter) return Array.from(text).length;
    let n = 0;
    for (const _ of segmenter.segment(text)) n++;
    return n;
  };
  const updateCounter = (area) => {
    const counter = form.querySelector(`[data-counter-for="${area.id}"]`);
    if (!counter) return;
    const min = Number(area.getAttribute('data-min-length')) || 0;
    const n = count(area.value.trim());
    counter.textContent =
      n >= min ? `${n}文字（${min}文字以上）` : `${n}文字（${min}文字以上・あと${min - n}文字）`;
    counter.classList.toggle('case-counter--short', n < min);
  };
  for (const area of areas) updateCounter(area);

  const show = (text, kind) => {
    status.textContent = text;
    status.className = `case-save-status${kind ? ` case-save-status--${kind}` : ''}`;
  };

  let dirty = false; // typed since the last successful save
  let saving = null; // the save in flight (a Promise)
  let timer = null;
  let retryDelay = 0;
  let stopped = false; // another tab saved a newer version: never overwrite it from here
  let pendingSubmitter = null;
  let submitting = false;

  const schedule = (delay) => {
    clearTimeout(timer);
    timer = setTimeout(save, delay);
  };

  async function save() {
    if (stopped || !dirty) return;
    if (saving) return schedule(1000);
    const sections = {};
    for (const area of areas) sections[area.getAttribute('data-section')] = area.value;
    const revision = Number(revisionInput.value);
    dirty = false;
    show('保存中…');
    saving = (async () => {
      let response;
      try {
        response = await fetch(url, {
          method: 'POST',
          credentials: 'same-origin',
          headers: {
            'content-type': 'application/json',
            accept: 'application/json',
            'x-csrf-token': csrfInput.value,
          },
          body: JSON.stringify({ revision, sections }),
        });
      } catch {
        response = null;
      }
      if (response && response.ok) {
        const result = await response.json();
        revisionInput.value = String(result.revision);
        retryDelay = 0;
        show(`保存しました ${result.savedAtLabel}`, 'ok');
        return;
      }
      dirty = true; // the text on the page is still unsaved
      let message;
      try {
        message = response ? (await response.json()).error.message : '';
      } catch {
        message = '';
      }
      if (response && response.status === 409) {
        stopped = true;
        show(message || '別の画面でより新しい内容が保存されています。', 'error');
        return;
      }
      if (response && (response.status === 413 || response.status === 422)) {
        show(message || '保存できませんでした。', 'error');
        return; // retried after the next change
      }
      if (response && (response.status === 401 || response.status === 403)) {
        show(
          'ログインの有効期限が切れたため保存できませんでした。入力した文章を控えてから、ページを読み込み直してください。',
          'error',
        );
        stopped = true;
        return;
      }
      retryDelay = Math.min(retryDelay ? retryDelay * 2 : 2000, 60000);
      show(
        `保存できませんでした。${Math.round(retryDelay / 1000)}秒後にもう一度保存します（入力した文章はこの画面に残っています）。`,
        'error',
      );
      schedule(retryDelay);
    })();
    try {
      await saving;
    } finally {
      saving = null;
    }
    if (pendingSubmitter) {
      const submitter = pendingSubmitter;
      pendingSubmitter = null;
      form.requestSubmit(submitter);
    }
  }

  form.addEventListener('input', (event) => {
    const area = event.target;
    if (!(area instanceof HTMLTextAreaElement) || !area.hasAttribute('data-section')) return;
    updateCounter(area);
    dirty = true;
    if (stopped) return;
    show('未保存の変更があります');
    schedule(retryDelay || 1500);
  });

  window.addEventListener('online', () => {
    if (dirty && !stopped) schedule(0);
  });

  form.addEventListener('submit', (event) => {
    // Wait for a save in flight, so the form posts the newest revision.
    if (saving) {
      event.preventDefault();
      pendingSubmitter = event.submitter || null;
      return;
    }
    clearTimeout(timer);
    submitting = true;
  });

  window.addEventListener('beforeunload', (event) => {
    if (!submitting && (dirty || saving)) event.preventDefault();
  });
})();
