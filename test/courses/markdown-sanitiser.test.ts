import { expect } from 'chai';
import { renderMarkdown, safeRelativeAssetPath } from '../../src/courses/markdown.js';

/**
 * The Markdown sanitiser's rules one by one (loader.test.ts has the mixed examples): what content
 * authors may use, what never reaches a page, and how references to the module's files are
 * checked and rewritten.
 */
const BASE = '/courses-assets/p/m';

describe('Markdown sanitiser', () => {
  describe('elements and attributes authors may use', () => {
    it('keeps every element of the allow-list', () => {
      const tags = [
        'h2',
        'h3',
        'h4',
        'h5',
        'h6',
        'p',
        'ul',
        'ol',
        'li',
        'strong',
        'em',
        'b',
        'i',
        'del',
        's',
        'sup',
        'sub',
        'code',
        'pre',
        'blockquote',
        'caption',
        'figure',
        'figcaption',
        'dl',
        'dt',
        'dd',
      ];
      const { html } = renderMarkdown(tags.map((tag) => `<${tag}>x</${tag}>`).join('\n'), BASE);
      for (const tag of tags) expect(html, tag).to.contain(`<${tag}>x</${tag}>`);
      const table = renderMarkdown(
        '<table><caption>c</caption><thead><tr><th>h</th></tr></thead><tbody><tr><td>d</td></tr></tbody><tfoot><tr><td>f</td></tr></tfoot></table>',
        BASE,
      ).html;
      for (const tag of ['thead', 'tbody', 'tfoot', 'tr', 'td'])
        expect(table, tag).to.contain(`<${tag}>`);
      expect(renderMarkdown('a<br>b<hr>', BASE).html).to.contain('<br />').and.contain('<hr />');
    });

    it('turns h1 into h2 (the page title is the only h1) and drops elements outside the list', () => {
      const { html } = renderMarkdown(
        '<h1>t</h1><div>d</div><span>s</span><form><input name="x"></form><object>o</object><svg><circle/></svg>',
        BASE,
      );
      expect(html).to.contain('<h2>t</h2>');
      expect(html).not.to.match(/<h1|<div|<span|<form|<input|<object|<svg|<circle/);
      // Discarded elements keep their text.
      expect(html).to.contain('d').and.contain('s');
    });

    it('keeps only the listed attributes of each element', () => {
      const { html } = renderMarkdown(
        [
          '<a href="https://example.jp/" title="t" rel="help" target="_blank" id="i">a</a>',
          '<ol start="3" type="a"><li>x</li></ol>',
          '<table><tr><th align="left" scope="row" abbr="x">h</th><td align="right" colspan="2">d</td></tr></table>',
          '<img src="images/a.png" alt="A" title="T" width="10" height="20" data-x="1">',
          '<code class="language-js other">x</code>',
          '<p class="lead" title="x">p</p>',
        ].join('\n\n'),
        BASE,
      );
      expect(html).to.contain('href="https://example.jp/"');
      expect(html).to.contain('title="t"');
      expect(html).not.to.match(/target=|id="i"|type="a"|abbr=|colspan=|data-x|class="lead"/);
      expect(html).to.contain('<ol start="3">');
      // Every header cell says it heads a column, whatever the author wrote.
      expect(html).to.contain('<th align="left" scope="col">h</th>');
      expect(html).to.contain('<td align="right">d</td>');
      expect(html).to.contain(
        '<img alt="A" title="T" width="10" height="20" src="/courses-assets/p/m/images/a.png" loading="lazy" />',
      );
      expect(html).to.contain('<code class="language-js">x</code>');
      expect(html).to.contain('<p>p</p>');
    });

    it('wraps each table in its own scrolling box', () => {
      const { html } = renderMarkdown('| a |\n|---|\n| 1 |\n\ntext\n\n| b |\n|---|\n| 2 |', BASE);
      expect(html.match(/<div class="table-scroll"><table>/g)).to.have.length(2);
      expect(html.match(/<\/table><\/div>/g)).to.have.length(2);
    });
  });

  describe('links', () => {
    it('marks links to other sites noopener noreferrer, and only those', () => {
      const { html } = renderMarkdown(
        '[a](https://example.jp/) [b](HTTP://example.jp/) [c](mailto:center@example.jp) [d](#part) [e](/learn)',
        BASE,
      );
      expect(html).to.contain('<a href="https://example.jp/" rel="noopener noreferrer">a</a>');
      expect(html).to.contain('<a href="HTTP://example.jp/" rel="noopener noreferrer">b</a>');
      expect(html).to.contain('<a href="mailto:center@example.jp">c</a>');
      expect(html).to.contain('<a href="#part">d</a>');
      expect(html).to.contain('<a href="/learn">e</a>');
      // "http:" later in the address does not make a link external.
      expect(renderMarkdown('[f](mailto:a@example.jp?subject=http:x)', BASE).html).to.contain(
        '<a href="mailto:a@example.jp?subject=http:x">f</a>',
      );
    });

    it('keeps an anchor without an address as it is, reporting nothing', () => {
      const { html, problems } = renderMarkdown('<a title="t">x</a>', BASE);
      expect(html).to.contain('<a title="t">x</a>');
      expect(problems).to.deep.equal([]);
    });

    it('keeps links to data:, javascript: and protocol-relative addresses as text only', () => {
      const { html } = renderMarkdown(
        '[a](data:text/html,x) [b](//evil.example/) [c](javascript:alert(1)) [d](ftp://example.jp/f)',
        BASE,
      );
      for (const label of ['a', 'b', 'c', 'd']) expect(html).to.contain(`<a>${label}</a>`);
    });

    it('rewrites a link to a file of the module, dropping its query and fragment for the check', () => {
      const result = renderMarkdown('[資料](files/手引き.pdf?v=2#page=3)', BASE);
      expect(result.html).to.contain(
        `<a href="${BASE}/files/${encodeURIComponent('手引き.pdf')}">資料</a>`,
      );
      expect(result.assets).to.deep.equal([
        {
          // As marked writes it: percent-encoded, decoded for the check.
          written: 'files/%E6%89%8B%E5%BC%95%E3%81%8D.pdf?v=2#page=3',
          relative: 'files/手引き.pdf',
          kind: 'link',
        },
      ]);
      expect(result.problems).to.deep.equal([]);
    });

    it('reports a relative link it cannot use and keeps its text without the address', () => {
      const { html, problems } = renderMarkdown('[x](notes.txt) [y](a%E0%A4%A.pdf)', BASE);
      expect(html).to.contain('<a>x</a>').and.contain('<a>y</a>');
      expect(problems).to.deep.equal([
        {
          written: 'notes.txt',
          message:
            '参照先 "notes.txt" は使えません: 使えるファイルの種類は .png, .jpg, .jpeg, .gif, .svg, .webp, .pdf です',
        },
        { written: 'a%E0%A4%A.pdf', message: 'パスの書き方が正しくありません' },
      ]);
    });
  });

  describe('images', () => {
    it('refuses every external image (data:, protocol-relative, http) and says why', () => {
      const { html, problems, assets } = renderMarkdown(
        '![a](data:image/png;base64,AAAA) ![b](//cdn.example/b.png) ![c](http://example.jp/c.png)',
        BASE,
      );
      expect(html).to.contain('<img alt="a" />').and.contain('<img alt="b" />');
      expect(html).to.contain('<img alt="c" />');
      expect(assets).to.deep.equal([]);
      expect(problems.map((p) => p.written)).to.deep.equal([
        'data:image/png;base64,AAAA',
        '//cdn.example/b.png',
        'http://example.jp/c.png',
      ]);
      expect(problems[1].message).to.equal(
        '外部の画像 "//cdn.example/b.png" は表示できません。画像はモジュールのフォルダ（images/）に置いてください',
      );
    });

    it('refuses a PDF as an image but accepts upper-case image extensions', () => {
      const { html, problems } = renderMarkdown('![a](files/a.pdf) ![b](images/B.PNG)', BASE);
      expect(html).to.contain('<img alt="a" />');
      expect(html).to.contain(`<img alt="b" src="${BASE}/images/B.PNG" loading="lazy" />`);
      expect(problems).to.deep.equal([
        {
          written: 'files/a.pdf',
          message: '画像として表示できない種類のファイルです: "files/a.pdf"',
        },
      ]);
    });

    it('reads a colon inside a relative path as part of the name, not as a scheme', () => {
      const { html, problems } = renderMarkdown('![a](images/v:1.png)', BASE);
      expect(html).to.contain(`<img alt="a" src="${BASE}/images/v%3A1.png" loading="lazy" />`);
      expect(problems).to.deep.equal([]);
    });

    it('keeps an image without a source as it is', () => {
      const { html, problems } = renderMarkdown('<img alt="空">', BASE);
      expect(html).to.contain('<img alt="空" />');
      expect(problems).to.deep.equal([]);
    });

    it('allows no file references where there is no module folder (the privacy notice)', () => {
      const { html, problems, assets } = renderMarkdown(
        '![a](images/a.png) [b](files/b.pdf)',
        null,
      );
      expect(html).to.contain('<img alt="a" />').and.contain('<a>b</a>');
      expect(assets).to.deep.equal([]);
      expect(problems.map((p) => p.message)).to.deep.equal([
        'この文書では画像・添付ファイルを参照できません（レッスンかモジュールの紹介文で参照してください）',
        'この文書では画像・添付ファイルを参照できません（レッスンかモジュールの紹介文で参照してください）',
      ]);
    });
  });

  describe('safeRelativeAssetPath (also guards the asset route)', () => {
    const refused = {
      'images/a\0.png': '使えない文字が含まれています',
      'images\\a.png': '使えない文字が含まれています',
      '/images/a.png': '絶対パスは使えません',
      'C:/images/a.png': '絶対パスは使えません',
      'c:a.png': '絶対パスは使えません',
      '../a.png':
        '「..」や「.」で始まる名前、空の区切りは使えません（モジュールのフォルダ内のファイルを指定してください）',
      'images/./a.png':
        '「..」や「.」で始まる名前、空の区切りは使えません（モジュールのフォルダ内のファイルを指定してください）',
      'images//a.png':
        '「..」や「.」で始まる名前、空の区切りは使えません（モジュールのフォルダ内のファイルを指定してください）',
      'images/.hidden.png':
        '「..」や「.」で始まる名前、空の区切りは使えません（モジュールのフォルダ内のファイルを指定してください）',
      'images/a.png.exe': '使えるファイルの種類は .png, .jpg, .jpeg, .gif, .svg, .webp, .pdf です',
      'images/a': '使えるファイルの種類は .png, .jpg, .jpeg, .gif, .svg, .webp, .pdf です',
    };
    for (const [written, reason] of Object.entries(refused))
      it(`refuses ${JSON.stringify(written)}`, () => {
        expect(safeRelativeAssetPath(written)).to.deep.equal({ reason });
      });

    it('accepts a path inside the folder with any of the listed extensions, in any case', () => {
      for (const extension of ['png', 'jpg', 'jpeg', 'gif', 'svg', 'webp', 'pdf', 'JPG'])
        expect(safeRelativeAssetPath(`images/a b.${extension}`)).to.deep.equal({
          relative: `images/a b.${extension}`,
        });
      expect(safeRelativeAssetPath('a..b.png')).to.deep.equal({ relative: 'a..b.png' });
      // A colon after the first character is part of a name, not a drive letter.
      expect(safeRelativeAssetPath('images/v:1.png')).to.deep.equal({ relative: 'images/v:1.png' });
    });
  });
});
