// Narrows a select grouped by municipality (所属機関) to the group of the municipality chosen in
// another select (所属市町村): <select data-narrow-by="field-municipalityId"> with
// <optgroup data-parent="<municipality id>">. Without this script the full list stays.
(() => {
  for (const select of document.querySelectorAll('select[data-narrow-by]')) {
    const parent = document.getElementById(select.getAttribute('data-narrow-by'));
    if (!parent || parent.tagName !== 'SELECT') continue;
    const groups = [...select.querySelectorAll('optgroup[data-parent]')];
    const none = document.createElement('option');
    none.value = '';
    none.disabled = true;
    none.textContent = 'この市町村の機関はまだ登録されていません';
    const narrow = () => {
      const chosen = parent.value;
      const selected = select.value;
      for (const group of groups) group.remove();
      none.remove();
      const shown = groups.filter(
        (group) => !chosen || group.getAttribute('data-parent') === chosen,
      );
      select.append(...shown);
      if (chosen && shown.length === 0) select.append(none);
      const stillThere = shown.some((group) =>
        [...group.children].some((option) => option.value === selected),
      );
      select.value = stillThere ? selected : '';
    };
    parent.addEventListener('change', narrow);
    narrow();
  }
})();
