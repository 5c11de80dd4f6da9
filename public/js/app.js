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
  // Move focus to the first field with an error, so keyboard and screen-reader users land on it.
  const firstInvalid = document.querySelector('[aria-invalid="true"]');
  if (firstInvalid instanceof HTMLElement) firstInvalid.focus();
})();
