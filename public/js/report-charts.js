// Charts of the tracking reports (/reports), drawn with Chart.js (served from this app). Each
// canvas carries its figures in data-chart; the table beside it shows the same numbers, so the
// page is complete without this script. Hidden counts (「3未満」) are gaps in the chart.
(() => {
  const Chart = window.Chart;
  const palette = ['#2f6f5e', '#c9822b', '#4a78a8', '#8a5a9e', '#7a8a3a'];
  const charts = [];
  if (Chart) {
    Chart.defaults.font.family = window.getComputedStyle(document.body).fontFamily;
    Chart.defaults.color = '#1f2a2e';
    for (const canvas of document.querySelectorAll('canvas[data-chart]')) {
      let data;
      try {
        data = JSON.parse(canvas.getAttribute('data-chart'));
      } catch {
        continue;
      }
      const manyLabels = data.labels.length > 12;
      if (data.horizontal) canvas.parentElement.classList.add('report-chart--tall');
      charts.push(
        new Chart(canvas, {
          type: data.type,
          data: {
            labels: data.labels,
            datasets: data.datasets.map((set, index) => ({
              ...set,
              backgroundColor: palette[index % palette.length],
              borderColor: palette[index % palette.length],
            })),
          },
          options: {
            indexAxis: data.horizontal ? 'y' : 'x',
            animation: false,
            maintainAspectRatio: false,
            responsive: true,
            plugins: { legend: { display: data.datasets.length > 1, position: 'bottom' } },
            scales: {
              [data.horizontal ? 'x' : 'y']: { beginAtZero: true, ticks: { precision: 0 } },
              [data.horizontal ? 'y' : 'x']: {
                ticks: { autoSkip: false, maxRotation: manyLabels ? 90 : 0 },
              },
            },
          },
        }),
      );
    }
  }
  // Redraw at the printed size, and print on request.
  window.addEventListener('beforeprint', () => {
    for (const chart of charts) chart.resize();
  });
  for (const button of document.querySelectorAll('[data-print]')) {
    button.addEventListener('click', () => window.print());
  }
})();
