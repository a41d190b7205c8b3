// Entry of static/livy/vendor/chart-bundle.min.js (built by scripts/build-frontend.sh).
// Chart.js with only the pieces the notebook uses registered (tree-shaken), exposed as
// window.Chart. Chart types: bar, line, scatter, pie, doughnut; scales: category, linear,
// logarithmic; plugins: tooltip, legend, title, filler, colors (automatic dataset colours).
import {
  Chart, BarController, LineController, ScatterController, PieController, DoughnutController,
  BarElement, LineElement, PointElement, ArcElement,
  CategoryScale, LinearScale, LogarithmicScale,
  Tooltip, Legend, Title, Filler, Colors,
} from "chart.js";

Chart.register(
  BarController, LineController, ScatterController, PieController, DoughnutController,
  BarElement, LineElement, PointElement, ArcElement,
  CategoryScale, LinearScale, LogarithmicScale,
  Tooltip, Legend, Title, Filler, Colors,
);

window.Chart = Chart;
