// Small progressive enhancements. Every page works without this file.
(() => {
  // Ask before leaving a form with unsaved changes (forms marked data-confirm-leave).
  for (const form of document.querySelectorAll('form[data-confirm-leave]')) {
    let dirty = false;
    form.addEventListener('input', () => {
      dirty = true;
    });
    form.addEventListener('submit', () => {
      dirty = false;
    });
    window.addEventListener('beforeunload', (event) => {
      if (dirty) event.preventDefault();
    });
  }
  // Buttons that ask for confirmation first (data-confirm="message").
  for (const element of document.querySelectorAll('[data-confirm]')) {
    element.addEventListener('click', (event) => {
      if (!window.confirm(element.getAttribute('data-confirm'))) event.preventDefault();
    });
  }
  // On a phone, a long menu (administrators, coordinators) folds behind a 「メニュー」 button.
  // Without this script every entry stays visible.
  const menu = document.querySelector('.site-nav ul');
  if (menu && menu.children.length > 6) {
    const narrow = window.matchMedia('(max-width: 40rem)');
    const toggle = document.createElement('button');
    toggle.type = 'button';
    toggle.className = 'button button--quiet button--small site-nav__toggle';
    toggle.textContent = 'メニュー';
    menu.id = menu.id || 'site-menu';
    toggle.setAttribute('aria-controls', menu.id);
    menu.before(toggle);
    const show = (open) => {
      toggle.setAttribute('aria-expanded', String(open));
      menu.hidden = !open;
    };
    toggle.addEventListener('click', () => show(menu.hidden));
    const fit = () => {
      toggle.hidden = !narrow.matches;
      show(!narrow.matches);
    };
    narrow.addEventListener('change', fit);
    fit();
  }
  // Move focus to the first field with an error, so keyboard and screen-reader users land on it.
  const firstInvalid = document.querySelector('[aria-invalid="true"]');
  if (firstInvalid instanceof HTMLElement) firstInvalid.focus();
})();
